"""The fused fast path and its slow twin: same numbers, and a profiler spy on which one ran."""

import pytest
import torch

import rnnkit
from contract import (
    HIDDEN,
    INPUT,
    PROJ,
    SEQUENCES,
    TIME,
    assert_runs_agree,
    forward,
    forward_and_grads,
    fused_ops_in,
    random_layer_state,
)

# id, class, keyword arguments, the aten operator torch.nn itself would call
TORCH_CONFIGS = [
    ("rnn_tanh", rnnkit.RNN, {}, "aten::rnn_tanh"),
    ("rnn_relu", rnnkit.RNN, {"nonlinearity": "relu"}, "aten::rnn_relu"),
    ("lstm", rnnkit.LSTM, {}, "aten::lstm"),
    ("lstm_proj", rnnkit.LSTM, {"proj_size": PROJ}, "aten::lstm"),
    ("gru", rnnkit.GRU, {}, "aten::gru"),
]



@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize(("cls", "kwargs", "op"),
                         [pytest.param(*c[1:], id=c[0]) for c in TORCH_CONFIGS])
def test_fused_and_loop_agree_and_the_spy_sees_the_kernel(cls, kwargs, op, bidirectional,
                                                          sequence):
    torch.manual_seed(0)
    fused = cls(INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional, dtype=torch.float64,
                **kwargs)
    loop = cls(INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional, dtype=torch.float64,
               engine="loop", **kwargs)
    loop.load_state_dict(fused.state_dict())
    assert fused.fused_blocker() is None
    assert "engine='loop'" in loop.fused_blocker()
    assert (fused.backend, loop.backend) == ("torch-fused", "loop")  # before any forward

    x = torch.randn(TIME, 3, INPUT, dtype=torch.float64)
    parts = random_layer_state(fused)
    # The spy: a forward of each under the profiler (the backward adds nothing to learn).
    with torch.no_grad():
        assert fused_ops_in(lambda: forward(fused, x, parts, sequence)) == {op}
        assert fused_ops_in(lambda: forward(loop, x, parts, sequence)) == set()
    assert (fused.backend, loop.backend) == ("torch-fused", "loop")
    results = {"fused": forward_and_grads(fused, x, parts, sequence),
               "loop": forward_and_grads(loop, x, parts, sequence)}
    assert (fused.backend, loop.backend) == ("torch-fused", "loop")

    assert_runs_agree(results["loop"], results["fused"])


@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize(
    ("cls", "kwargs", "reason", "backend"),
    [(rnnkit.LSTM, {"peephole": True}, "peephole", "rnnkit"),
     (rnnkit.LSTM, {"peephole": True, "proj_size": PROJ, "bidirectional": True}, "peephole",
      "loop"),
     (rnnkit.GRU, {"reset_after": False}, "reset_after", "rnnkit"),
     (rnnkit.GRU, {"reset_after": False, "bidirectional": True}, "reset_after", "rnnkit")],
    ids=["lstm-peephole", "lstm-peephole-proj-bi", "gru-reset-before", "gru-reset-before-bi"])
def test_configs_without_a_torch_kernel_never_call_one(cls, kwargs, reason, backend, sequence):
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, num_layers=2, dtype=torch.float64, **kwargs)
    assert layer.engine == "auto"
    assert reason in layer.fused_blocker()
    assert layer.backend.startswith(backend)
    x = torch.randn(TIME, 3, INPUT, dtype=torch.float64)
    parts = random_layer_state(layer)
    with torch.no_grad():
        assert fused_ops_in(lambda: forward(layer, x, parts, sequence)) == set()
    forward_and_grads(layer, x, parts, sequence)  # and with autograd on
    assert layer.backend.startswith(backend)


@pytest.mark.parametrize(("cls", "kwargs", "op"),
                         [pytest.param(*c[1:], id=c[0]) for c in TORCH_CONFIGS])
def test_backend_reports_the_path_of_the_last_forward(cls, kwargs, op):
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, dtype=torch.float64, **kwargs)
    x = torch.randn(TIME, 2, INPUT, dtype=torch.float64)
    assert fused_ops_in(lambda: layer(x)) == {op}
    assert layer.backend == "torch-fused"
    layer.engine = "loop"
    assert fused_ops_in(lambda: layer(x)) == set()
    assert layer.backend == "loop"
    layer.engine = "auto"
    assert fused_ops_in(lambda: layer(x[:, 0])) == {op}  # unbatched input too
    assert layer.backend == "torch-fused"
    with pytest.raises(AttributeError):
        layer.backend = "loop"  # read-only


TORCH_TWINS = {"rnn_tanh": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM,
               "lstm_proj": torch.nn.LSTM, "gru": torch.nn.GRU}


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize(("name", "cls", "kwargs"),
                         [pytest.param(c[0], c[1], c[2], id=c[0]) for c in TORCH_CONFIGS])
def test_one_cpu_step_skips_the_fused_kernel_and_matches_torch(name, cls, kwargs,
                                                               bidirectional):
    """A single step on the CPU runs the cell's step function (its kernel setup costs more
    than the step): the spy sees no fused operator, and output, state and gradients equal
    torch.nn's with the same weights."""
    torch.manual_seed(0)
    ours = cls(INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional, dtype=torch.float64,
               **kwargs)
    theirs = TORCH_TWINS[name](INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional,
                               dtype=torch.float64, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 3, INPUT, dtype=torch.float64)
    parts = random_layer_state(ours)
    with torch.no_grad():
        assert fused_ops_in(lambda: forward(ours, x, parts, "equal")) == set()
    assert ours.backend == "single-step"
    assert_runs_agree(forward_and_grads(ours, x, parts, "equal"),
                      forward_and_grads(theirs, x, parts, "equal"))
    ours(torch.randn(2, 3, INPUT, dtype=torch.float64))
    assert ours.backend == "torch-fused"  # two steps: the fused kernel again
