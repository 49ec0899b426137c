"""rnnkit's cells against torch.nn's cells: the new state and every gradient."""

import itertools

import pytest
import torch
from torch import nn

import rnnkit
from contract import BATCH, HIDDEN, INPUT, PROJ, assert_close, state_parts

CELLS = {
    "rnncell_tanh": (rnnkit.RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnncell_relu": (rnnkit.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    "lstmcell": (rnnkit.LSTMCell, nn.LSTMCell, {}),
    "grucell": (rnnkit.GRUCell, nn.GRUCell, {}),
}
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def fresh_leaves(x, parts):
    return x.clone().requires_grad_(), tuple(p.clone().requires_grad_() for p in parts)


def compare_steps(ours, reference, x, parts, atol, *, call_reference=None):
    """One step of both from copies of the same input and state; compare values and grads."""
    x_a, parts_a = fresh_leaves(x, parts)
    x_b, parts_b = fresh_leaves(x, parts)
    is_lstm = isinstance(ours, rnnkit.LSTMCell)
    hx_a = (tuple(parts_a) if is_lstm else parts_a[0]) if parts_a else None
    new_a = state_parts(ours(x_a, hx_a))
    if call_reference is None:
        hx_b = (tuple(parts_b) if is_lstm else parts_b[0]) if parts_b else None
        new_b = state_parts(reference(x_b, hx_b))
    else:
        new_b = call_reference(x_b, parts_b)
    assert len(new_a) == len(new_b)
    for name, a, b in zip(("h", "c"), new_a, new_b, strict=False):
        assert_close(a, b, atol, name)
    cotangents = [torch.randn_like(t) for t in new_b]
    leaves_a = [x_a, *parts_a, *ours.parameters()]
    leaves_b = [x_b, *parts_b, *reference.parameters()]
    loss_a = sum((t * g).sum() for t, g in zip(new_a, cotangents, strict=True))
    loss_b = sum((t * g).sum() for t, g in zip(new_b, cotangents, strict=True))
    grads_a = torch.autograd.grad(loss_a, leaves_a)
    grads_b = torch.autograd.grad(loss_b, leaves_b)
    names = ["input", *(f"state{i}" for i in range(len(parts_a))),
             *(n for n, _ in ours.named_parameters())]
    for name, a, b in zip(names, grads_a, grads_b, strict=True):
        assert_close(a, b, atol, f"gradient of {name}")


CASES = [
    pytest.param(kind, batched, given, bias, dtype,
                 id=f"{kind}-{'batched' if batched else 'unbatched'}-"
                    f"{'hx' if given else 'nohx'}-{'bias' if bias else 'nobias'}-"
                    f"{str(dtype).removeprefix('torch.')}")
    for kind, batched, given, bias, dtype in itertools.product(
        CELLS, (True, False), (True, False), (True, False), (torch.float64, torch.float32))
]


@pytest.mark.parametrize(("kind", "batched", "given", "bias", "dtype"), CASES)
def test_cell_matches_torch(kind, batched, given, bias, dtype):
    ours_cls, torch_cls, extra = CELLS[kind]
    torch.manual_seed(0)
    reference = torch_cls(INPUT, HIDDEN, bias, dtype=dtype, **extra)
    ours = ours_cls(INPUT, HIDDEN, bias, dtype=dtype, **extra)
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    lead = (BATCH,) if batched else ()
    x = torch.randn(*lead, INPUT, dtype=dtype)
    count = 2 if ours_cls is rnnkit.LSTMCell else 1
    parts = tuple(torch.randn(*lead, HIDDEN, dtype=dtype) for _ in range(count)) if given else ()
    compare_steps(ours, reference, x, parts, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("given", [True, False], ids=["hx", "nohx"])
def test_lstm_cell_with_projection_matches_one_step_of_torch_lstm(dtype, batched, given):
    torch.manual_seed(0)
    reference = nn.LSTM(INPUT, HIDDEN, proj_size=PROJ, dtype=dtype)
    ours = rnnkit.LSTMCell(INPUT, HIDDEN, proj_size=PROJ, dtype=dtype)
    ours.load_state_dict({name.removesuffix("_l0"): value
                          for name, value in reference.state_dict().items()}, strict=True)
    lead = (BATCH,) if batched else ()
    x = torch.randn(*lead, INPUT, dtype=dtype)
    parts = (torch.randn(*lead, PROJ, dtype=dtype),
             torch.randn(*lead, HIDDEN, dtype=dtype)) if given else ()

    def one_step(x, parts):
        # nn.LSTM wants (time, batch, features) and states (layers, batch, size).
        hx = tuple(p.unsqueeze(0) for p in parts) if parts else None
        _, (h, c) = reference(x.unsqueeze(0), hx)
        return h.squeeze(0), c.squeeze(0)

    h, c = ours(x)
    assert h.shape == (*lead, PROJ) and c.shape == (*lead, HIDDEN)
    compare_steps(ours, reference, x, parts, TOLERANCE[dtype], call_reference=one_step)
