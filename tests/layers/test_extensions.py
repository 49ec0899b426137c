"""Layer configurations torch.nn lacks: checked against cells stepped by hand and by gradcheck."""

import pytest
import torch

import rnnkit
from contract import (
    BATCH,
    HIDDEN,
    INPUT,
    LENGTHS,
    PROJ,
    TIME,
    TINY_BATCH,
    TINY_HIDDEN,
    TINY_INPUT,
    TINY_PROJ,
    TINY_TIME,
    Config,
    as_hx,
    assert_close,
    gradcheck_module,
    random_layer_state,
    run_layer,
    state_parts,
)

# (id, layer class, cell class, keyword arguments shared by both, layer-only arguments)
EXTENSIONS = [
    ("lstm_peephole", rnnkit.LSTM, rnnkit.LSTMCell, {"peephole": True}, {}),
    ("lstm_peephole_proj", rnnkit.LSTM, rnnkit.LSTMCell, {"peephole": True, "proj_size": PROJ},
     {}),
    ("lstm_peephole_proj_2l_bi", rnnkit.LSTM, rnnkit.LSTMCell,
     {"peephole": True, "proj_size": PROJ}, {"num_layers": 2, "bidirectional": True}),
    ("lstm_peephole_nobias_bi", rnnkit.LSTM, rnnkit.LSTMCell, {"peephole": True, "bias": False},
     {"bidirectional": True}),
    ("gru_reset_before", rnnkit.GRU, rnnkit.GRUCell, {"reset_after": False}, {}),
    ("gru_reset_before_2l_bi", rnnkit.GRU, rnnkit.GRUCell, {"reset_after": False},
     {"num_layers": 2, "bidirectional": True}),
    ("irnn", rnnkit.RNN, rnnkit.RNNCell, {"nonlinearity": "relu", "init": "identity"}, {}),
    ("irnn_2l_bi", rnnkit.RNN, rnnkit.RNNCell, {"nonlinearity": "relu", "init": "identity"},
     {"num_layers": 2, "bidirectional": True}),
    # torch.nn has these; the loop engine must agree with stepping the cells all the same.
    ("lstm_proj_2l_bi_loop", rnnkit.LSTM, rnnkit.LSTMCell, {"proj_size": PROJ},
     {"num_layers": 2, "bidirectional": True, "engine": "loop"}),
    ("gru_2l_bi_loop", rnnkit.GRU, rnnkit.GRUCell, {}, {"num_layers": 2, "bidirectional": True,
                                                         "engine": "loop"}),
]
EXTENSION_PARAMS = [pytest.param(*case[1:], id=case[0]) for case in EXTENSIONS]


def cells_from_layer(layer, cell_cls, shared):
    """One cell module per (layer, direction), holding that layer-direction's weights."""
    state_dict = layer.state_dict()
    cells = {}
    for index in range(layer.num_layers):
        for direction in range(2 if layer.bidirectional else 1):
            suffix = f"_l{index}" + ("_reverse" if direction else "")
            weights = {name.removesuffix(suffix): value for name, value in state_dict.items()
                       if name.endswith(suffix)}
            input_size = weights["weight_ih"].shape[1]
            cell = cell_cls(input_size, layer.hidden_size, dtype=torch.float64, **shared)
            cell.load_state_dict(weights, strict=True)
            cells[index, direction] = cell
    return cells


def step_cells_by_hand(layer, cells, x, parts, lengths):
    """The layer's output and final state computed one sequence and one step at a time."""
    directions = 2 if layer.bidirectional else 1
    out_size = layer.proj_size or layer.hidden_size
    output = torch.zeros(x.shape[0], x.shape[1], directions * out_size, dtype=x.dtype)
    finals = [torch.zeros_like(p) for p in parts]
    for b, length in enumerate(lengths):
        sequence = [x[t, b] for t in range(length)]
        for index in range(layer.num_layers):
            results = []
            for direction in range(directions):
                slot = index * directions + direction
                state = tuple(p[slot, b] for p in parts)
                order = range(length) if direction == 0 else reversed(range(length))
                outs = [None] * length
                for t in order:
                    state = state_parts(cells[index, direction](sequence[t], as_hx(
                        cells[index, direction], state)))
                    outs[t] = state[0]
                for final, value in zip(finals, state, strict=True):
                    final[slot, b] = value
                results.append(outs)
            sequence = [torch.cat([r[t] for r in results]) for t in range(length)]
        for t in range(length):
            output[t, b] = sequence[t]
    return output, tuple(finals)


@pytest.mark.parametrize("with_lengths", [True, False], ids=["lengths", "full"])
@pytest.mark.parametrize(("layer_cls", "cell_cls", "shared", "layer_only"), EXTENSION_PARAMS)
def test_loop_layer_equals_cells_stepped_by_hand(layer_cls, cell_cls, shared, layer_only,
                                                 with_lengths):
    torch.manual_seed(0)
    layer = layer_cls(INPUT, HIDDEN, dtype=torch.float64, **shared,
                      **{"engine": "loop", **layer_only})
    with torch.no_grad():  # wider than the init, and non-zero peepholes and biases
        for p in layer.parameters():
            p.uniform_(-0.8, 0.8)
    cells = cells_from_layer(layer, cell_cls, shared)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    parts = random_layer_state(layer)
    lengths = LENGTHS if with_lengths else (TIME,) * BATCH
    kwargs = {"lengths": torch.tensor(lengths)} if with_lengths else {}
    output, final = run_layer(layer, x, parts, **kwargs)
    assert layer.backend == "loop"
    want_output, want_final = step_cells_by_hand(layer, cells, x, parts, lengths)
    assert_close(output, want_output, 1e-12, "output")
    for got, want in zip(final, want_final, strict=True):
        assert_close(got, want, 1e-12, "final state")


@pytest.mark.parametrize(("layer_cls", "cell_cls", "shared", "layer_only"), EXTENSION_PARAMS[:8])
def test_extension_layers_pass_gradcheck_with_lengths(layer_cls, cell_cls, shared, layer_only):
    """Finite differences through variable lengths, both directions, every parameter."""
    kwargs = {**shared, **layer_only}
    proj = "proj_size" in kwargs
    kwargs.pop("proj_size", None)
    config = Config("extension", layer_cls, kwargs, proj)
    layer = config.build(TINY_INPUT, TINY_HIDDEN, TINY_PROJ)
    x = torch.randn(TINY_TIME, TINY_BATCH, TINY_INPUT, dtype=torch.float64)
    parts = random_layer_state(layer, TINY_BATCH)
    lengths = torch.tensor([TINY_TIME - 1, TINY_TIME])

    def run(module, x, parts):
        output, state = run_layer(module, x, parts, lengths=lengths)
        return (output, *state)

    gradcheck_module(layer, run, x, parts, fast_mode=config.num_layers > 1)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(rnnkit.LSTMCell, {"peephole": True}),
     (rnnkit.LSTMCell, {"peephole": True, "proj_size": TINY_PROJ}),
     (rnnkit.GRUCell, {"reset_after": False}),
     (rnnkit.GRUCell, {"reset_after": False, "bias": False}),
     (rnnkit.RNNCell, {"nonlinearity": "relu", "init": "identity"})],
    ids=["lstm-peephole", "lstm-peephole-proj", "gru-reset-before", "gru-reset-before-nobias",
         "irnn"])
def test_extension_cells_pass_gradcheck(cls, kwargs):
    torch.manual_seed(0)
    cell = cls(TINY_INPUT, TINY_HIDDEN, dtype=torch.float64, **kwargs)
    if kwargs.get("init") == "identity":
        with torch.no_grad():  # keep relu away from its kink at 0 for finite differences
            cell.weight_ih.uniform_(-1, 1)
    sizes = ((kwargs.get("proj_size") or TINY_HIDDEN, TINY_HIDDEN) if cls is rnnkit.LSTMCell
             else (TINY_HIDDEN,))
    x = torch.randn(TINY_BATCH, TINY_INPUT, dtype=torch.float64)
    parts = tuple(torch.randn(TINY_BATCH, size, dtype=torch.float64) for size in sizes)

    def run(module, x, parts):
        return state_parts(module(x, as_hx(module, parts)))

    gradcheck_module(cell, run, x, parts)
