"""Property-based layer tests: random shapes, lengths and options against torch.nn and the loop.

Hypothesis draws a configuration (cell, engine, sizes, layers, directions, layout, dtype,
lengths given as a tensor or a PackedSequence, with or without an initial state) and the
layer must match torch.nn.{RNN,LSTM,GRU} holding the same weights: outputs, final states
and the gradients of the input, the initial state and every parameter. float64 must agree
to 1e-10; float32 to a tolerance scaled for single precision. A second property holds every
engine to the Python loop (``engine="loop"``), the slow twin, on the same draws.

Runs are derandomized (the same examples every run, CI reproducible) and small: tiny sizes,
40 examples per property, no deadline (a shared CI machine has slow moments).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from contract import assert_close, fresh_leaves, state_parts
from rnnkit.engine import BACKEND_NATIVE, native_unavailable_reason

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])
TOLERANCE = {torch.float64: 1e-10, torch.float32: 2e-5}
MODES = {
    "rnn_tanh": (rnnkit.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "lstm_proj": (rnnkit.LSTM, nn.LSTM, {}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
}
SCAN_BACKEND = (BACKEND_NATIVE if native_unavailable_reason(torch.device("cpu"), torch.float64)
                is None else "rnnkit-scan")


@dataclasses.dataclass(frozen=True)
class Case:
    mode: str
    engine: str
    batch: int
    time: int
    input_size: int
    hidden_size: int
    proj_size: int
    num_layers: int
    bidirectional: bool
    batch_first: bool
    dtype: torch.dtype
    lengths: tuple[int, ...] | None  # None: every row runs the whole time axis
    packed: bool  # lengths go in as a PackedSequence (else as ``lengths=``)
    given_state: bool
    seed: int

    def layer_kwargs(self) -> dict:
        kwargs = {"num_layers": self.num_layers, "bidirectional": self.bidirectional,
                  "batch_first": self.batch_first, "dtype": self.dtype, **MODES[self.mode][2]}
        if self.proj_size:
            kwargs["proj_size"] = self.proj_size
        return kwargs

    def expected_backend(self) -> str:
        """The path this case must take (the one-step CPU shortcut included)."""
        if self.engine == "loop" or (self.engine == "rnnkit" and self.proj_size):
            return "loop"
        if self.engine == "rnnkit":
            return SCAN_BACKEND
        full = self.lengths is None or (not self.packed and min(self.lengths) == self.time)
        return "single-step" if self.time == 1 and full and not self.packed else "torch-fused"


@st.composite
def cases(draw, engines=("auto", "rnnkit", "loop")) -> Case:
    mode = draw(st.sampled_from(sorted(MODES)))
    batch = draw(st.integers(1, 4))
    time = draw(st.integers(1, 6))
    hidden = draw(st.integers(2 if mode == "lstm_proj" else 1, 5))
    proj = draw(st.integers(1, hidden - 1)) if mode == "lstm_proj" else 0
    kind = draw(st.sampled_from(["none", "random", "all_equal", "all_one", "one_full"]))
    if kind == "none":
        lengths = None
    elif kind == "random":
        lengths = tuple(draw(st.lists(st.integers(1, time), min_size=batch, max_size=batch)))
    elif kind == "all_equal":
        lengths = (draw(st.integers(1, time)),) * batch
    elif kind == "all_one":
        lengths = (1,) * batch
    else:  # one row at full length, the rest random: the padded time axis is exactly ``time``
        rest = draw(st.lists(st.integers(1, time), min_size=batch - 1, max_size=batch - 1))
        lengths = (time, *rest)
    return Case(
        mode=mode, engine=draw(st.sampled_from(engines)), batch=batch, time=time,
        input_size=draw(st.integers(1, 5)), hidden_size=hidden, proj_size=proj,
        num_layers=draw(st.integers(1, 3)), bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        dtype=draw(st.sampled_from([torch.float64, torch.float32])), lengths=lengths,
        packed=lengths is not None and draw(st.booleans()), given_state=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def build(case: Case, torch_reference: bool, engine: str | None = None) -> nn.Module:
    ours_cls, torch_cls, _ = MODES[case.mode]
    cls = torch_cls if torch_reference else ours_cls
    kwargs = case.layer_kwargs()
    if not torch_reference:
        kwargs["engine"] = engine or case.engine
    return cls(case.input_size, case.hidden_size, **kwargs)


def inputs(case: Case, module: nn.Module) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
    generator = torch.Generator().manual_seed(case.seed)
    shape = ((case.batch, case.time) if case.batch_first else (case.time, case.batch))
    x = torch.randn(*shape, case.input_size, generator=generator, dtype=case.dtype)
    if not case.given_state:
        return x, None
    stacked = case.num_layers * (2 if case.bidirectional else 1)
    sizes = [case.proj_size or case.hidden_size]
    if case.mode.startswith("lstm"):
        sizes.append(case.hidden_size)
    return x, tuple(torch.randn(stacked, case.batch, size, generator=generator, dtype=case.dtype)
                    for size in sizes)


def run(case: Case, module: nn.Module, x: torch.Tensor, parts) -> tuple:
    """Output (padded to ``time``), final state parts, and gradients of every leaf."""
    x, hx, leaves = fresh_leaves(module, x, parts)
    if case.lengths is None:
        output, state = module(x, hx)
    elif case.packed or not isinstance(module, rnnkit.layers.RecurrentLayer):
        packed = pack_padded_sequence(x, torch.tensor(case.lengths),
                                      batch_first=case.batch_first, enforce_sorted=False)
        packed_output, state = module(packed, hx)
        output, _ = pad_packed_sequence(packed_output, batch_first=case.batch_first,
                                        total_length=case.time)
    else:
        output, state = module(x, hx, lengths=torch.tensor(case.lengths))
    state = state_parts(state)
    generator = torch.Generator().manual_seed(case.seed + 1)
    loss = sum((t * torch.randn(t.shape, generator=generator, dtype=t.dtype)).sum()
               for t in (output, *state))
    grads = torch.autograd.grad(loss, leaves)
    names = ["input", *("h_0", "c_0")[:len(leaves) - 1 - len(list(module.parameters()))],
             *(name for name, _ in module.named_parameters())]
    return output, state, dict(zip(names, grads, strict=True))


def assert_runs_match(case: Case, ours: tuple, reference: tuple, what: str) -> None:
    atol = TOLERANCE[case.dtype]
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = ours, reference
    assert_close(out_a, out_b, atol, f"{what}: output")
    assert len(state_a) == len(state_b)
    for name, a, b in zip(("h_n", "c_n"), state_a, state_b, strict=False):
        assert_close(a, b, atol, f"{what}: {name}")
    assert list(grads_a) == list(grads_b)
    for name in grads_a:
        assert_close(grads_a[name], grads_b[name], atol, f"{what}: gradient of {name}")


@pytest.mark.filterwarnings("ignore:LSTM with projections")
@PROPERTY_SETTINGS
@given(case=cases())
def test_layer_matches_torch_nn(case):
    reference = build(case, torch_reference=True)
    ours = build(case, torch_reference=False)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x, parts = inputs(case, reference)
    expected = run(case, reference, x, parts)
    got = run(case, ours, x, parts)
    assert ours.backend == case.expected_backend(), case
    assert_runs_match(case, got, expected, f"{case} against torch.nn")


@pytest.mark.filterwarnings("ignore:LSTM with projections")
@PROPERTY_SETTINGS
@given(case=cases(engines=("auto", "rnnkit")))
def test_fast_paths_match_the_loop(case):
    fast = build(case, torch_reference=False)
    slow = build(case, torch_reference=False, engine="loop")
    slow.load_state_dict(fast.state_dict(), strict=True)
    x, parts = inputs(case, fast)
    got = run(case, fast, x, parts)
    expected = run(case, slow, x, parts)
    assert fast.backend == case.expected_backend() and slow.backend == "loop", case
    assert_runs_match(case, got, expected, f"{case} against the loop")
