"""Which path a layer takes and what ``rnnkit.explain`` says about it, and ``build_layer``:
every path's numbers against torch.nn with copied weights (or the loop, for cells torch
lacks). Small sizes on purpose: mutation testing runs these for every dispatch mutant."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from rnnkit.engine.native import native_unavailable_reason
from rnnkit.layers.factory import build_layer

INPUT, HIDDEN, TIME, BATCH = 3, 5, 4, 3
TWINS = {"lstm": (rnnkit.LSTM, nn.LSTM, {}), "gru": (rnnkit.GRU, nn.GRU, {}),
         "rnn_tanh": (rnnkit.RNN, nn.RNN, {}),
         "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"})}
CPU_HAS_NATIVE = native_unavailable_reason(torch.device("cpu"), torch.float64) is None
SCAN = "rnnkit-fused" if CPU_HAS_NATIVE else "rnnkit-scan"
FUSED_WHY = ("torch has this configuration: its fused kernel runs (cuDNN on GPU; one step on "
             "the CPU runs the step function)")


def twin_pair(name: str, **options):
    """An rnnkit layer and the torch.nn layer with the same weights (float64)."""
    ours_cls, theirs_cls, extra = TWINS[name]
    torch.manual_seed(0)
    ours = ours_cls(INPUT, HIDDEN, dtype=torch.float64, **extra, **options)
    theirs = theirs_cls(INPUT, HIDDEN, dtype=torch.float64, **extra, **options)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def assert_same(ours, theirs) -> None:
    """Outputs (tensors, PackedSequences, state tuples) equal to 1e-10."""
    if isinstance(ours, (tuple, list)):
        assert len(ours) == len(theirs)
        for mine, reference in zip(ours, theirs, strict=True):
            assert_same(mine, reference)
    elif isinstance(ours, nn.utils.rnn.PackedSequence):
        assert_same(tuple(ours), tuple(theirs))
    elif ours is None:
        assert theirs is None
    else:
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", list(TWINS))
@pytest.mark.parametrize("options", [
    {}, {"bias": False}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True},
], ids=["plain", "no-bias", "two-layers-bi", "batch-first"])
def test_torch_configurations_run_torchs_kernel_with_torchs_numbers(name, options):
    ours, theirs = twin_pair(name, **options)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    if options.get("batch_first"):
        x = x.transpose(0, 1)
    assert ours.backend == "torch-fused"
    assert_same(ours(x), theirs(x))
    assert ours.backend == "torch-fused"


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_ragged_batches_match_torch_on_packed_input(name):
    ours, theirs = twin_pair(name, num_layers=2, bidirectional=True)
    x = torch.randn(TIME + 2, BATCH, INPUT, dtype=torch.float64)
    lengths = torch.tensor([3, TIME, 2])  # all shorter than the time axis, unsorted
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    expected_packed, expected_state = theirs(packed)
    output, state = ours(x, lengths=lengths)
    assert ours.backend == "torch-fused"
    expected, _ = nn.utils.rnn.pad_packed_sequence(expected_packed, total_length=TIME + 2)
    assert_same((output, state), (expected, expected_state))
    assert_same(ours(packed), (expected_packed, expected_state))


@pytest.mark.parametrize("name", list(TWINS))
def test_dropout_between_layers_draws_as_torch_does_in_training_only(name):
    ours, theirs = twin_pair(name, num_layers=3, dropout=0.4)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    torch.manual_seed(7)
    trained = ours(x)
    torch.manual_seed(7)
    assert_same(trained, theirs(x))
    ours.eval()
    theirs.eval()
    assert_same(ours(x), theirs(x))
    assert not torch.allclose(ours(x)[0], trained[0])


@pytest.mark.parametrize("name", list(TWINS))
def test_one_cpu_step_runs_the_step_function_with_torchs_numbers(name):
    ours, theirs = twin_pair(name, num_layers=2)
    step = torch.randn(1, BATCH, INPUT, dtype=torch.float64)
    assert_same(ours(step), theirs(step))
    assert ours.backend == "single-step"
    assert_same(ours(step, lengths=torch.tensor([1, 1, 1])), theirs(step))
    assert ours.backend == "single-step"  # full-length rows are no ragged batch
    assert_same(ours(step[:, 0]), theirs(step[:, 0]))  # unbatched: still one step
    assert ours.backend == "single-step"
    two = torch.randn(2, BATCH, INPUT, dtype=torch.float64)
    assert_same(ours(two), theirs(two))
    assert ours.backend == "torch-fused"
    ours.engine = "loop"
    assert_same(ours(step), theirs(step))
    assert ours.backend == "loop"


# Each way off torch's kernel: class, options, the backend it reports.
PATHS = [
    (rnnkit.LSTM, {"peephole": True}, SCAN),
    (rnnkit.GRU, {"reset_after": False}, SCAN),
    (rnnkit.LSTM, {"engine": "rnnkit"}, SCAN),
    (rnnkit.LSTM, {"engine": "loop"}, "loop"),
    (rnnkit.LSTM, {"peephole": True, "proj_size": 2}, "loop"),
    (rnnkit.LSTM, {"engine": "rnnkit", "proj_size": 2}, "loop"),
]


@pytest.mark.parametrize(("cls", "options", "backend"), PATHS)
def test_each_path_is_reported_and_agrees_with_the_loop(cls, options, backend):
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, dtype=torch.float64, **options)
    loop = cls(INPUT, HIDDEN, dtype=torch.float64, **{**options, "engine": "loop"})
    loop.load_state_dict(layer.state_dict())
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    lengths = torch.tensor([TIME, 2, 3])
    assert layer.backend == backend
    assert_same(layer(x), loop(x))
    assert layer.backend == backend
    output, state = layer(x, lengths=lengths)
    assert_same((output, state), loop(x, lengths=lengths))
    finals = state if isinstance(state, tuple) else (state,)
    for row, length in enumerate(lengths.tolist()):  # each row alone, cut to its length
        alone, alone_state = layer(x[:length, row:row + 1])
        alone_finals = alone_state if isinstance(alone_state, tuple) else (alone_state,)
        assert_same(output[:length, row:row + 1], alone)
        assert not output[length:, row].any()
        assert_same(tuple(f[:, row:row + 1] for f in finals), alone_finals)
    step = x[:1]
    assert_same(layer(step), loop(step))
    assert layer.backend == backend  # the single-step shortcut is for torch's kernel only


def test_recurrent_dropout_leaves_torchs_kernel_in_training_only():
    layer = rnnkit.GRU(INPUT, HIDDEN, recurrent_dropout=0.3)
    assert layer.backend == "rnnkit-fused" if native_unavailable_reason(
        torch.device("cpu"), torch.float32) is None else "rnnkit-scan"
    layer.eval()
    assert layer.backend == "torch-fused"
    assert rnnkit.LSTM(INPUT, HIDDEN).train().backend == "torch-fused"


def test_the_device_and_dtype_decide_between_cpp_and_torch_operator_kernels():
    gru = rnnkit.GRU(INPUT, HIDDEN, reset_after=False, dtype=torch.float64)
    assert gru.backend_for("cuda") == "rnnkit-scan"  # the C++ kernels are CPU-only
    assert gru.backend_for(torch.device("cpu")) == SCAN
    assert rnnkit.LSTM(INPUT, HIDDEN).backend_for("cuda") == "torch-fused"
    half = rnnkit.GRU(INPUT, HIDDEN, reset_after=False, dtype=torch.bfloat16)
    assert half.backend == "rnnkit-scan"
    assert "not torch.bfloat16" in rnnkit.explain(half)


@pytest.mark.parametrize(("cls", "options"), [
    (rnnkit.GRU, {"reset_after": False}), (rnnkit.GRU, {"engine": "loop"}),
    (rnnkit.LSTM, {"peephole": True, "proj_size": 2}),  # the loop: no scan kernel
])
def test_autocast_leaves_rnnkits_own_kernels_in_the_parameters_precision(cls, options):
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, **options)
    x = torch.randn(TIME, BATCH, INPUT)
    lengths = torch.tensor([TIME, 1, 2])
    for given in (None, lengths):
        expected, expected_state = layer(x, lengths=given)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output, state = layer(x, lengths=given)
        assert output.dtype == torch.float32
        torch.testing.assert_close(output, expected, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(state, expected_state, rtol=1e-6, atol=1e-6)


def test_explain_says_which_path_and_why():
    assert rnnkit.explain(rnnkit.LSTM(4, 8)) == f"LSTM: torch-fused: {FUSED_WHY}"
    model = nn.ModuleDict({
        "loop": rnnkit.LSTM(4, 8, engine="loop"),
        "stack": nn.Sequential(rnnkit.LSTM(4, 8, peephole=True, proj_size=2)),
        "asked": rnnkit.GRU(4, 8, engine="rnnkit"),
        "dropout": rnnkit.GRU(4, 8, recurrent_dropout=0.5),
        "head": nn.Linear(8, 2),
    })
    lines = rnnkit.explain(model).split("\n")
    assert lines[0] == ("loop: loop: engine='loop' was requested; no scan kernel either: "
                        "engine='loop' was requested")
    assert lines[1] == ("stack.0: loop: peephole=True has no torch fused kernel; no scan kernel "
                        "either: proj_size > 0 has no rnnkit scan kernel yet")
    runs_on = ("rnnkit's scan engine with its C++ kernels" if CPU_HAS_NATIVE
               else "rnnkit's scan in torch operators (")
    assert lines[2].startswith(f"asked: {SCAN}: engine='rnnkit' was requested; runs on {runs_on}")
    assert lines[3].startswith(f"dropout: {SCAN}: recurrent_dropout masks h inside the "
                               "recurrence, which torch's fused kernels cannot do; runs on ")
    assert len(lines) == 4
    model.eval()
    assert rnnkit.explain(model).split("\n")[3] == f"dropout: torch-fused: {FUSED_WHY}"
    assert rnnkit.explain(model, device="cuda").split("\n")[2] == (
        "asked: rnnkit-scan: engine='rnnkit' was requested; runs on rnnkit's scan in torch "
        "operators (the C++ kernels are CPU-only and the layer is on cuda)")
    assert rnnkit.explain(nn.Linear(2, 2)) == "Linear holds no rnnkit recurrent layer"


@pytest.mark.parametrize("name", list(TWINS))
def test_build_layer_builds_the_named_batch_first_layer(name):
    ours = build_layer(name, INPUT, HIDDEN, num_layers=2, bidirectional=True, dropout=0.25,
                       dtype=torch.float64)
    _, theirs_cls, extra = TWINS[name]
    theirs = theirs_cls(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True,
                        dtype=torch.float64, **extra)
    theirs.load_state_dict(ours.state_dict())
    ours.eval()
    theirs.eval()
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    assert_same(ours(x), theirs(x))
    assert (ours.num_layers, ours.bidirectional, ours.batch_first, ours.dropout) == \
        (2, True, True, 0.25)
    assert isinstance(ours, TWINS[name][0])


def test_build_layer_drops_dropout_for_one_layer_and_passes_options():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "dropout does nothing" warning either
        single = build_layer("gru", INPUT, HIDDEN, dropout=0.5)
    assert single.dropout == 0.0 and single.num_layers == 1 and not single.bidirectional
    assert single.batch_first
    peephole = build_layer("lstm", INPUT, HIDDEN, peephole=True)
    assert "peephole" in peephole.fused_blocker()
    assert build_layer("lstm", INPUT, HIDDEN, num_layers=2).dropout == 0.0  # none by default
    with pytest.raises(ValueError) as error:
        build_layer("rnn", INPUT, HIDDEN)
    assert str(error.value) == ("build_layer expected cell to be one of 'lstm', 'gru', "
                                "'rnn_tanh', 'rnn_relu', 'irnn', 'mingru', 'minlstm', "
                                "got 'rnn'")


@pytest.mark.parametrize("cls", [rnnkit.GRU, rnnkit.LSTM])
def test_training_dropout_draws_the_same_masks_on_every_path(cls):
    """Recurrent and weight dropout are drawn before the path is chosen: with the same seed,
    the scan and the loop see the same masks. A batch of 2 against 3 input features."""
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, recurrent_dropout=0.3, weight_dropout=0.2, dtype=torch.float64)
    loop = cls(INPUT, HIDDEN, recurrent_dropout=0.3, weight_dropout=0.2, engine="loop",
               dtype=torch.float64)
    loop.load_state_dict(layer.state_dict())
    x = torch.randn(TIME, 2, INPUT, dtype=torch.float64)
    torch.manual_seed(5)
    dropped = layer(x)
    assert layer.backend == SCAN
    torch.manual_seed(5)
    assert_same(dropped, loop(x))
    layer.eval()
    plain = cls(INPUT, HIDDEN, dtype=torch.float64)
    plain.load_state_dict(layer.state_dict())
    assert not torch.allclose(dropped[0], plain(x)[0])
