"""rnnkit's layers against torch.nn: outputs, final states and every gradient, every engine.

torch.nn (with the weights copied over) is the independent reference for all three paths a
torch configuration can take: ``engine="auto"`` (torch's fused kernel, which mostly checks
the weight, state and lengths plumbing), ``engine="rnnkit"`` (rnnkit's scan engine, C++ or
torch-operator kernels) and ``engine="loop"`` (the cell step functions in Python). Every
test also asserts the path that really ran (``layer.backend``), so a dispatch change that
silently sends ``engine="rnnkit"`` back to torch's kernel fails here.
"""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import rnnkit
from contract import (
    BATCH,
    HIDDEN,
    INPUT,
    LENGTHS,
    PROJ,
    TIME,
    as_hx,
    assert_close,
    fresh_leaves,
    state_parts,
)
from rnnkit.engine import BACKEND_NATIVE, native_unavailable_reason

MODES = {
    "rnn_tanh": (rnnkit.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "lstm_proj": (rnnkit.LSTM, nn.LSTM, {"proj_size": PROJ}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
}
ENGINES = ("auto", "rnnkit", "loop")
SEQUENCES = ("equal", "lengths", "packed")
#: The scan engine's backend on this machine: C++ kernels where they build, else torch ops
#: (RNNKIT_NATIVE=0 forces the latter; test_torch_operator_kernels_match_torch runs that).
SCAN_BACKEND = (BACKEND_NATIVE if native_unavailable_reason(torch.device("cpu"), torch.float64)
                is None else "rnnkit-scan")


def expected_backend(mode, engine):
    """The path ``engine`` must take for ``mode`` (more than one step, on the CPU)."""
    if engine == "auto":
        return "torch-fused"
    if engine == "rnnkit" and mode != "lstm_proj":
        return SCAN_BACKEND
    # proj_size has no scan kernel: engine="rnnkit" runs the loop and explain() says why.
    return "loop"


def build_pair(mode, *, dtype=torch.float64, engine="auto", **kwargs):
    """A torch.nn layer and an rnnkit layer holding the torch.nn layer's weights."""
    ours_cls, torch_cls, extra = MODES[mode]
    torch.manual_seed(0)
    reference = torch_cls(INPUT, HIDDEN, dtype=dtype, **extra, **kwargs)
    ours = ours_cls(INPUT, HIDDEN, dtype=dtype, engine=engine, **extra, **kwargs)
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


def random_state(module, dtype, batch=BATCH):
    directions = 2 if module.bidirectional else 1
    sizes = [module.proj_size or module.hidden_size]
    if isinstance(module, (nn.LSTM, rnnkit.LSTM)):
        sizes.append(module.hidden_size)
    return tuple(torch.randn(module.num_layers * directions, batch, size, dtype=dtype)
                 for size in sizes)


def run(module, x, parts, sequence, *, lengths=LENGTHS, enforce_sorted=False):
    """Run ``module`` on fresh leaves copied from ``x`` and ``parts``.

    Returns the output tensor (padded, or the packed data), the state tuple, the leaves
    to differentiate (input, state, parameters) and the PackedSequence when there is one.
    """
    x, hx, leaves = fresh_leaves(module, x, parts)
    lengths = torch.tensor(lengths)
    batch_first = module.batch_first
    packed_out = None
    if sequence == "equal":
        output, state = module(x, hx)
    elif sequence == "lengths" and isinstance(module, rnnkit.layers.RecurrentLayer):
        output, state = module(x, hx, lengths=lengths)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first,
                                      enforce_sorted=enforce_sorted)
        packed_out, state = module(packed, hx)
        assert isinstance(packed_out, PackedSequence)
        if sequence == "packed":
            output = packed_out.data
        else:
            output, _ = pad_packed_sequence(packed_out, batch_first=batch_first,
                                            total_length=x.shape[1 if batch_first else 0])
    return output, state_parts(state), leaves, packed_out


def gradients(output, state, leaves, cotangents):
    loss = sum((t * g).sum() for t, g in zip((output, *state), cotangents, strict=True))
    return torch.autograd.grad(loss, leaves)


def compare(ours, reference, x, parts, sequence, atol, **run_kwargs):
    out_a, state_a, leaves_a, packed_a = run(ours, x, parts, sequence, **run_kwargs)
    out_b, state_b, leaves_b, packed_b = run(reference, x, parts, sequence, **run_kwargs)
    assert_close(out_a, out_b, atol, "output")
    for name, a, b in zip(("h_n", "c_n"), state_a, state_b, strict=False):
        assert_close(a, b, atol, name)
    assert len(state_a) == len(state_b)
    if packed_b is not None and sequence == "packed":
        assert torch.equal(packed_a.batch_sizes, packed_b.batch_sizes)
        for name in ("sorted_indices", "unsorted_indices"):
            a, b = getattr(packed_a, name), getattr(packed_b, name)
            assert (a is None and b is None) or torch.equal(a, b), name
    cotangents = [torch.randn_like(t) for t in (out_b, *state_b)]
    grads_a = gradients(out_a, state_a, leaves_a, cotangents)
    grads_b = gradients(out_b, state_b, leaves_b, cotangents)
    names = ["input"] + [f"state{i}" for i in range(len(leaves_a) - 1 - len(list(
        reference.parameters())))] + [n for n, _ in reference.named_parameters()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    for name, a, b in zip(names, grads_a, grads_b, strict=True):
        assert_close(a, b, atol, f"gradient of {name}")
        assert b.abs().max() > 0 or name.startswith("state"), f"gradient of {name} is all zero"


def make_input(module, dtype, batch=BATCH, time=TIME):
    shape = (batch, time, INPUT) if module.batch_first else (time, batch, INPUT)
    return torch.randn(shape, dtype=dtype)


def case_id(mode, layers, bidirectional, batch_first, sequence, given, engine):
    return "-".join([mode, f"L{layers}", "bi" if bidirectional else "uni",
                     "bf" if batch_first else "tf", sequence, "h0" if given else "noh0", engine])


FLOAT64_CASES = [
    pytest.param(*values, id=case_id(*values))
    for values in itertools.product(MODES, (1, 3), (False, True), (False, True), SEQUENCES,
                                    (False, True), ENGINES)
]


@pytest.mark.parametrize(
    ("mode", "layers", "bidirectional", "batch_first", "sequence", "given", "engine"),
    FLOAT64_CASES)
def test_layer_matches_torch_float64(mode, layers, bidirectional, batch_first, sequence, given,
                                     engine):
    dtype = torch.float64
    ours, reference = build_pair(mode, dtype=dtype, engine=engine, num_layers=layers,
                                 bidirectional=bidirectional, batch_first=batch_first)
    torch.manual_seed(1)
    x = make_input(ours, dtype)
    parts = random_state(ours, dtype) if given else None
    compare(ours, reference, x, parts, sequence, 1e-10)
    assert ours.backend == expected_backend(mode, engine)


FLOAT32_CASES = [
    pytest.param(*values, id=case_id(*values))
    for values in itertools.product(MODES, (1, 3), (True,), (False, True), SEQUENCES, (True,),
                                    ENGINES)
]


@pytest.mark.parametrize(
    ("mode", "layers", "bidirectional", "batch_first", "sequence", "given", "engine"),
    FLOAT32_CASES)
def test_layer_matches_torch_float32(mode, layers, bidirectional, batch_first, sequence, given,
                                     engine):
    dtype = torch.float32
    ours, reference = build_pair(mode, dtype=dtype, engine=engine, num_layers=layers,
                                 bidirectional=bidirectional, batch_first=batch_first)
    torch.manual_seed(2)
    x = make_input(ours, dtype)
    compare(ours, reference, x, random_state(ours, dtype), sequence, 1e-5)
    assert ours.backend == expected_backend(mode, engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("lengths", "sequence", "enforce_sorted"),
    [
        pytest.param((4, 2, 3), "lengths", False, id="longest-shorter-than-time"),
        pytest.param((5, 5, 5), "lengths", False, id="all-full-length"),
        pytest.param((1, 1, 1), "lengths", False, id="all-length-one"),
        # Sorting (1, 5, 3) longest first is a 3-cycle, not its own inverse: a layer that
        # forgets to undo the sort fails here (LENGTHS' sort is a swap, its own inverse).
        pytest.param((1, 5, 3), "lengths", False, id="sort-is-a-three-cycle"),
        pytest.param((5, 3, 1), "packed", True, id="packed-enforce-sorted"),
        pytest.param((2, 4, 1), "packed", False, id="packed-longest-shorter-than-time"),
    ])
def test_lengths_edge_cases_match_torch(mode, engine, lengths, sequence, enforce_sorted):
    ours, reference = build_pair(mode, engine=engine, num_layers=2, bidirectional=True)
    torch.manual_seed(3)
    x = make_input(ours, torch.float64)
    time = max(lengths) if sequence == "packed" else TIME
    x = x[:time]
    compare(ours, reference, x, random_state(ours, torch.float64), sequence, 1e-10,
            lengths=lengths, enforce_sorted=enforce_sorted)
    assert ours.backend == expected_backend(mode, engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("bias", [False], ids=["nobias"])
def test_layer_without_bias_matches_torch(mode, engine, bias):
    ours, reference = build_pair(mode, engine=engine, num_layers=2, bidirectional=True, bias=bias)
    assert not any("bias" in name for name, _ in ours.named_parameters())
    torch.manual_seed(4)
    x = make_input(ours, torch.float64)
    compare(ours, reference, x, random_state(ours, torch.float64), "lengths", 1e-10)
    assert ours.backend == expected_backend(mode, engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8],
                         ids=["int32", "int16", "uint8"])
def test_lengths_of_any_integer_dtype(mode, engine, dtype):
    ours, reference = build_pair(mode, engine=engine, bidirectional=True)
    torch.manual_seed(5)
    x = make_input(ours, torch.float64)
    expected, expected_state = ours(x, lengths=torch.tensor(LENGTHS))
    output, state = ours(x, lengths=torch.tensor(LENGTHS, dtype=dtype))
    assert torch.equal(output, expected)
    for a, b in zip(state_parts(state), state_parts(expected_state), strict=True):
        assert torch.equal(a, b)
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), enforce_sorted=False)
    reference_out, _ = pad_packed_sequence(reference(packed)[0], total_length=TIME)
    assert_close(output, reference_out, 1e-10)


@pytest.mark.parametrize("batch_first", [False, True], ids=["tf", "bf"])
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", list(MODES))
def test_unbatched_input_matches_torch(mode, engine, batch_first):
    """Unbatched input is (time, features) whatever batch_first says, as in torch.nn."""
    ours, reference = build_pair(mode, engine=engine, num_layers=2, bidirectional=True,
                                 batch_first=batch_first)
    torch.manual_seed(6)
    x = torch.randn(TIME, INPUT, dtype=torch.float64)
    parts = tuple(p[:, 0] for p in random_state(ours, torch.float64))
    out_a, state_a = ours(x, as_hx(ours, parts))
    out_b, state_b = reference(x, as_hx(reference, parts))
    assert_close(out_a, out_b, 1e-10, "output")
    for a, b in zip(state_parts(state_a), state_parts(state_b), strict=True):
        assert_close(a, b, 1e-10, "final state")


def test_engine_rnnkit_with_proj_size_says_it_runs_the_loop():
    layer = rnnkit.LSTM(INPUT, HIDDEN, proj_size=PROJ, engine="rnnkit")
    assert layer.backend == "loop"
    assert "proj_size > 0 has no rnnkit scan kernel" in rnnkit.explain(layer)


def test_torch_operator_kernels_match_torch():
    """The scan engine's torch-operator kernels (GPUs, no compiler) against torch.nn too.

    RNNKIT_NATIVE=0 is read once per process, so the engine="rnnkit" float64 cases run
    again in a child process with it set; ``expected_backend`` then asks for rnnkit-scan.
    """
    # The child turns the C++ kernels off on purpose; CI's rule that they must run
    # (tests/conftest.py) is for the suite, not for this child.
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    env["RNNKIT_NATIVE"] = "0"
    here = Path(__file__)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
               "no:xdist", str(here), "-k", "float64 and rnnkit and L1 and not rnn_relu",
               "--rootdir", str(here.parents[2])]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                            cwd=here.parents[2])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " deselected" in result.stdout, result.stdout[-2000:]
