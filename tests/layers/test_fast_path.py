"""The fused fast path and its slow twin: same numbers, and a profiler spy on which one ran."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence
from torch.profiler import ProfilerActivity, profile

import rnnkit
from contract import (
    HIDDEN,
    INPUT,
    LENGTHS,
    PROJ,
    TIME,
    as_hx,
    assert_close,
    random_layer_state,
    state_parts,
)

FUSED_OPS = {"aten::lstm", "aten::gru", "aten::rnn_tanh", "aten::rnn_relu"}

# id, class, keyword arguments, the aten operator torch.nn itself would call
TORCH_CONFIGS = [
    ("rnn_tanh", rnnkit.RNN, {}, "aten::rnn_tanh"),
    ("rnn_relu", rnnkit.RNN, {"nonlinearity": "relu"}, "aten::rnn_relu"),
    ("lstm", rnnkit.LSTM, {}, "aten::lstm"),
    ("lstm_proj", rnnkit.LSTM, {"proj_size": PROJ}, "aten::lstm"),
    ("gru", rnnkit.GRU, {}, "aten::gru"),
]
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

    (out_f, state_f, grads_f), (out_l, state_l, grads_l) = results["fused"], results["loop"]
    assert_close(out_l, out_f, 1e-10, "output")
    for a, b in zip(state_l, state_f, strict=True):
        assert_close(a, b, 1e-10, "final state")
    for index, (a, b) in enumerate(zip(grads_l, grads_f, strict=True)):
        assert_close(a, b, 1e-10, f"gradient {index}")


@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize(
    ("cls", "kwargs", "reason"),
    [(rnnkit.LSTM, {"peephole": True}, "peephole"),
     (rnnkit.LSTM, {"peephole": True, "proj_size": PROJ, "bidirectional": True}, "peephole"),
     (rnnkit.GRU, {"reset_after": False}, "reset_after"),
     (rnnkit.GRU, {"reset_after": False, "bidirectional": True}, "reset_after")],
    ids=["lstm-peephole", "lstm-peephole-proj-bi", "gru-reset-before", "gru-reset-before-bi"])
def test_configs_without_a_kernel_run_the_loop(cls, kwargs, reason, sequence):
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, num_layers=2, dtype=torch.float64, **kwargs)
    assert layer.engine == "auto"
    assert reason in layer.fused_blocker()
    assert layer.backend == "loop"
    x = torch.randn(TIME, 3, INPUT, dtype=torch.float64)
    parts = random_layer_state(layer)
    with torch.no_grad():
        assert fused_ops_in(lambda: forward(layer, x, parts, sequence)) == set()
    forward_and_grads(layer, x, parts, sequence)  # and with autograd on
    assert layer.backend == "loop"


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
