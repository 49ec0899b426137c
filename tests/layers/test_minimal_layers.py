"""minGRU and minLSTM layers against the paper's equations written out in NumPy, the parallel
scan against the step loop, and what a user sees: backends, packing, errors, autocast.

The shared contract (shapes, batch_first, chunks with the state carried, lengths,
bidirectional halves, safetensors, gradcheck) runs over them in test_layer_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from rnnkit import MinGRU, MinLSTM
from rnnkit.engine.native import native_unavailable_reason

NATIVE_REASON = native_unavailable_reason(torch.device("cpu"), torch.float64)
# What engine="auto" runs on the CPU: the C++ loop where the kernels built.
AUTO_BACKEND = "parallel-scan" if NATIVE_REASON else "rnnkit-fused"
BACKENDS = {"auto": AUTO_BACKEND, "scan": "parallel-scan", "loop": "loop"}

TIME, BATCH, INPUT, HIDDEN = 9, 3, 4, 5


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def numpy_layer(layer, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One layer, one direction, as Feng et al. write the step (section 3), in float64."""
    weight = layer.weight_ih_l0.detach().double().numpy()
    bias = layer.bias_ih_l0.detach().double().numpy()
    outputs = []
    for x_t in x:  # (batch, input)
        gates = np.split(x_t @ weight.T + bias, layer.gates, axis=1)
        candidate = gates[-1]
        if layer.form == "log":
            candidate = np.where(candidate >= 0, candidate + 0.5, sigmoid(candidate))
        if isinstance(layer, MinGRU):
            z = sigmoid(gates[0])
            h = (1 - z) * h + z * candidate
        else:
            f, i = sigmoid(gates[0]), sigmoid(gates[1])
            h = f / (f + i) * h + i / (f + i) * candidate
        outputs.append(h)
    return np.stack(outputs), h


LAYERS = [pytest.param(cls, form, id=f"{cls.__name__}-{form}")
          for cls in (MinGRU, MinLSTM) for form in ("log", "linear")]


@pytest.mark.parametrize(("cls", "form"), LAYERS)
@pytest.mark.parametrize("engine", sorted(BACKENDS))
def test_outputs_and_state_equal_the_papers_equations(cls, form, engine) -> None:
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, form=form, engine=engine, dtype=torch.float64)
    x, h_0 = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64), \
        torch.randn(1, BATCH, HIDDEN, dtype=torch.float64)
    output, h_n = layer(x, h_0)
    expected, final = numpy_layer(layer, x.numpy(), h_0[0].numpy())
    assert layer.backend == BACKENDS[engine]
    np.testing.assert_allclose(output.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n[0].detach().numpy(), final, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("cls", "form"), LAYERS)
@pytest.mark.parametrize("engine", ["auto", "scan"])
def test_scan_gradients_equal_the_step_loops_for_every_parameter(cls, form, engine) -> None:
    torch.manual_seed(1)
    scan = cls(INPUT, HIDDEN, num_layers=2, bidirectional=True, form=form, engine=engine,
               dtype=torch.float64)
    loop = cls(INPUT, HIDDEN, num_layers=2, bidirectional=True, form=form, engine="loop",
               dtype=torch.float64)
    loop.load_state_dict(scan.state_dict())
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    h_0 = torch.randn(4, BATCH, HIDDEN, dtype=torch.float64)
    lengths = torch.tensor([TIME, 4, 6])
    grads = []
    for layer in (scan, loop):
        inputs = [x.clone().requires_grad_(), h_0.clone().requires_grad_()]
        output, h_n = layer(*inputs, lengths=lengths)
        assert layer.backend == BACKENDS[layer.engine]
        (output.sin().sum() + h_n.cos().sum()).backward()
        grads.append([*(t.grad for t in inputs), *(p.grad for p in layer.parameters())])
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
@pytest.mark.parametrize("engine", ["auto", "scan"])
def test_float32_over_16384_steps_stays_near_the_float64_loop(cls, engine) -> None:
    """16,384 steps in float32 on the default path (the C++ loop where it runs) and on the
    log-space scan, against the step loop in float64: within 1e-4 of the state's scale,
    and finite gradients."""
    torch.manual_seed(6)
    layer = cls(2, 4, engine=engine)
    reference = cls(2, 4, engine="loop", dtype=torch.float64)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(16_384, 1, 2) * 3
    output, _ = layer(x.requires_grad_())
    expected, _ = reference(x.detach().double())
    scale = expected.abs().amax(dim=0)
    error = ((output.detach().double() - expected).abs().amax(dim=0) / scale).max()
    assert float(error) < 1e-4, float(error)
    output.sum().backward()
    assert bool(torch.isfinite(x.grad).all())


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_a_packed_sequence_equals_lengths(cls) -> None:
    torch.manual_seed(2)
    layer = cls(INPUT, HIDDEN, bidirectional=True, batch_first=True, dtype=torch.float64)
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    lengths = torch.tensor([3, TIME, 5])
    padded, h_padded = layer(x, lengths=lengths)
    packed, h_packed = layer(pack_padded_sequence(x, lengths, batch_first=True,
                                                  enforce_sorted=False))
    expected = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    torch.testing.assert_close(packed.data, expected.data, rtol=0, atol=1e-13)
    torch.testing.assert_close(h_packed, h_padded, rtol=0, atol=1e-13)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_generation_steps_one_at_a_time_through_the_cells_step(cls) -> None:
    """A sequence fed one step at a time, the state carried, equals the scan of the whole."""
    torch.manual_seed(3)
    layer = cls(INPUT, HIDDEN, num_layers=2, dtype=torch.float64)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    whole, h_whole = layer(x)
    state, steps = None, []
    for x_t in x:
        output, state = layer(x_t.unsqueeze(0), state)
        steps.append(output[0])
    assert layer.backend == "single-step"
    torch.testing.assert_close(torch.stack(steps), whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state, h_whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("cls", "cell_cls"), [(MinGRU, rnnkit.MinGRUCell),
                                               (MinLSTM, rnnkit.MinLSTMCell)])
def test_the_cell_is_one_step_of_the_layer(cls, cell_cls) -> None:
    torch.manual_seed(4)
    layer = cls(INPUT, HIDDEN, form="linear", dtype=torch.float64)
    cell = cell_cls(INPUT, HIDDEN, form="linear", dtype=torch.float64)
    cell.load_state_dict({name.removesuffix("_l0"): value
                          for name, value in layer.state_dict().items()})
    x, h = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64), \
        torch.randn(BATCH, HIDDEN, dtype=torch.float64)
    output, _ = layer(x, h.unsqueeze(0))
    for x_t, expected in zip(x, output, strict=True):
        h = cell(x_t, h)
        torch.testing.assert_close(h, expected, rtol=1e-12, atol=1e-12)


def test_explain_names_each_path_and_why() -> None:
    model = torch.nn.ModuleDict({"auto": MinGRU(2, 3), "scan": MinGRU(2, 3, engine="scan"),
                                 "slow": MinLSTM(2, 3, engine="loop")})
    text = rnnkit.explain(model)
    assert f"auto: {AUTO_BACKEND}: the gates read the input only" in text
    assert "scan: parallel-scan: the gates read the input only" in text
    assert "(engine='scan' was requested)" in text
    assert "slow: loop: engine='loop' was requested" in text


def test_under_bf16_autocast_the_scan_runs_in_float32_and_takes_bf16_inputs() -> None:
    torch.manual_seed(5)
    layer = MinGRU(INPUT, HIDDEN)
    x = torch.randn(BATCH, TIME, INPUT).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, h_n = layer(x.transpose(0, 1))
    assert output.dtype == h_n.dtype == torch.float32
    reference, _ = layer(x.float().transpose(0, 1))
    torch.testing.assert_close(output, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"form": "exp"}, "MinGRU expected form to be one of 'log', 'linear', got 'exp'"),
    ({"engine": "rnnkit"},
     "MinGRU expected engine to be one of 'auto', 'scan', 'loop', got 'rnnkit'"),
    ({"dropout": 1.5}, r"MinGRU expected dropout in \[0, 1\], got 1.5"),
    ({"num_layers": 0}, "MinGRU expected num_layers"),
])
def test_bad_options_are_refused_naming_them(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        MinGRU(INPUT, HIDDEN, **kwargs)


def test_bad_inputs_are_refused_naming_them() -> None:
    layer = MinLSTM(INPUT, HIDDEN)
    with pytest.raises(ValueError, match="MinLSTM expected input with 4 features"):
        layer(torch.randn(TIME, BATCH, INPUT + 1))
    with pytest.raises(ValueError, match=r"MinLSTM expected hx of shape \(1, 3, 5\)"):
        layer(torch.randn(TIME, BATCH, INPUT), torch.randn(1, BATCH, HIDDEN + 1))
    with pytest.raises(ValueError, match="at least one time step"):
        layer(torch.randn(0, BATCH, INPUT))
