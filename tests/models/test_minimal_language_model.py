"""The minGRU/minLSTM language model (residual blocks) against mingru-pytorch 0.2.1, the
reference implementation people copy, with weights copied across; and its own behaviour."""

from __future__ import annotations

import pytest
import torch
from minGRU_pytorch.minGRU import minGRU
from minGRU_pytorch.minLM import minLM
from minGRU_pytorch.minLSTM import minLSTM
from torch import nn

import rnnkit
from rnnkit.layers.residual import ResidualRecurrentStack
from rnnkit.models import LanguageModel, ModelConfig

VOCAB, DIM, DEPTH = 13, 8, 2
REFERENCE_CELLS = {"mingru": minGRU, "minlstm": minLSTM}


def their_projection_as_ours(weight: torch.Tensor, cell: str) -> torch.Tensor:
    """mingru-pytorch stacks (candidate, gates...); rnnkit (gates..., candidate)."""
    parts = weight.chunk(2 if cell == "mingru" else 3, dim=0)
    return torch.cat([*parts[1:], parts[0]])


@torch.no_grad()
def copy_layer(theirs: nn.Module, ours: rnnkit.MinGRU | rnnkit.MinLSTM, cell: str) -> None:
    linear = theirs.to_hidden_and_gate if cell == "mingru" else theirs.to_hidden_and_f_i_gate
    ours.weight_ih_l0.copy_(their_projection_as_ours(linear.weight, cell))
    ours.bias_ih_l0.zero_()  # theirs has no bias


@torch.no_grad()
def copy_language_model(theirs: minLM, ours: LanguageModel, cell: str) -> None:
    ours.embedding.weight.copy_(theirs.token_emb.weight)
    for block, (_, norm, recurrent, ff_norm, feed_forward, _) in zip(
            ours.rnn.blocks, theirs.layers, strict=True):
        block.recurrent_norm.weight.copy_(norm.weight)
        copy_layer(recurrent, block.recurrent, cell)
        block.feed_forward_norm.weight.copy_(ff_norm.weight)
        for mine, their in zip(block.feed_forward, feed_forward, strict=True):
            if isinstance(mine, nn.Linear):
                mine.weight.copy_(their.weight)
                mine.bias.copy_(their.bias)
    ours.rnn.norm.weight.copy_(theirs.norm.weight)
    ours.decoder.weight.copy_(theirs.to_logits.weight)
    ours.decoder.bias.zero_()  # theirs has no bias


def models(cell: str) -> tuple[minLM, LanguageModel]:
    torch.manual_seed(0)
    theirs = minLM(num_tokens=VOCAB, dim=DIM, depth=DEPTH, ff_mult=4, expansion=1.0,
                   use_lstm=cell == "minlstm").double().eval()
    for norm in (module for module in theirs.modules() if isinstance(module, nn.RMSNorm)):
        nn.init.uniform_(norm.weight, 0.5, 1.5)  # not all ones, so a skipped norm shows
    ours = LanguageModel(ModelConfig(vocab_size=VOCAB, cell=cell, embedding_size=DIM,
                                     hidden_size=DIM, num_layers=DEPTH, dropout=0.0))
    ours = ours.double().eval()
    copy_language_model(theirs, ours, cell)
    return theirs, ours


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_the_language_model_equals_mingru_pytorchs_minlm(cell: str) -> None:
    theirs, ours = models(cell)
    tokens = torch.randint(0, VOCAB, (3, 21), generator=torch.Generator().manual_seed(1))
    expected = theirs(tokens)
    logits, _ = ours(tokens)
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_generation_step_by_step_equals_minlms_cached_decoding(cell: str) -> None:
    """minLM decodes one token at a time from its cached hidden states; so does rnnkit's
    sampler, from the state the model returns."""
    theirs, ours = models(cell)
    tokens = torch.randint(0, VOCAB, (2, 6), generator=torch.Generator().manual_seed(2))
    their_cache, state = None, None
    for t in range(tokens.shape[1]):
        their_logits, their_cache = theirs(tokens[:, :t + 1], return_prev_hiddens=True,
                                           prev_hiddens=their_cache)
        logits, state = ours(tokens[:, t:t + 1], state)
        torch.testing.assert_close(logits, their_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(state, torch.cat([h.transpose(0, 1) for h in their_cache]),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_the_layer_in_float32_is_within_1e_6_of_mingru_pytorchs_in_float64(cell: str) -> None:
    """Against their layer run in float64: their own float32 log-space scan is off by
    about 6e-6 over these 64 steps, so float64 is the fair reference."""
    torch.manual_seed(3)
    theirs = REFERENCE_CELLS[cell](DIM)
    layer_class = rnnkit.MinGRU if cell == "mingru" else rnnkit.MinLSTM
    ours = layer_class(DIM, DIM, batch_first=True)
    copy_layer(theirs, ours, cell)
    inputs = torch.randn(4, 64, DIM)
    output, h_n = ours(inputs)
    expected = theirs.double()(inputs.double()).float()
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(h_n[0], expected[:, -1], rtol=0, atol=1e-6)


def test_mingru_from_a_given_state_equals_mingru_pytorchs() -> None:
    """minGRU's parallel path from a previous (positive) state: the carried state of
    truncated BPTT. (mingru-pytorch's minLSTM passes a given state through g() first, which
    is not the paper's recurrence, so only minGRU is compared from a state.)"""
    torch.manual_seed(4)
    theirs, ours = minGRU(DIM).double(), rnnkit.MinGRU(DIM, DIM, batch_first=True).double()
    copy_layer(theirs, ours, "mingru")
    inputs, previous = torch.randn(2, 9, DIM).double(), torch.rand(2, 1, DIM).double() + 0.1
    output, _ = ours(inputs, previous.transpose(0, 1))
    torch.testing.assert_close(output, theirs(inputs, previous), rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_padded_row_ends_in_the_state_it_has_alone(cell: str) -> None:
    torch.manual_seed(5)
    stack = ResidualRecurrentStack(cell, 5, DIM, num_layers=2).double().eval()
    inputs = torch.randn(3, 7, 5).double()
    lengths = torch.tensor([7, 3, 5])
    output, h_n = stack(inputs, lengths=lengths)
    for row, length in enumerate(lengths.tolist()):
        alone, alone_state = stack(inputs[row:row + 1, :length])
        torch.testing.assert_close(output[row, :length], alone[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(h_n[:, row], alone_state[:, 0], rtol=0, atol=1e-12)
        assert not output[row, length:].any()


@pytest.mark.parametrize("option", [{"recurrent_dropout": 0.1}, {"weight_dropout": 0.2},
                                    {"init": "orthogonal"}, {"peephole": True}])
def test_options_without_meaning_for_a_minimal_cell_are_refused(option: dict) -> None:
    (name,) = option
    with pytest.raises(ValueError, match=f"{name}.*cell='mingru'|cell='mingru'.*{name}"):
        ModelConfig(vocab_size=VOCAB, cell="mingru", **option)


def test_a_state_of_the_wrong_shape_is_named() -> None:
    stack = ResidualRecurrentStack("minlstm", 4, 6, num_layers=2)
    with pytest.raises(ValueError, match=r"hx of shape \(2, batch, 6\), got \(1, 3, 6\)"):
        stack(torch.randn(3, 5, 4), torch.zeros(1, 3, 6))


def test_explain_names_every_blocks_recurrence() -> None:
    model = LanguageModel(ModelConfig(vocab_size=VOCAB, cell="minlstm", hidden_size=8,
                                      embedding_size=4, num_layers=3))
    lines = rnnkit.explain(model).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"rnn.blocks.{index}.recurrent" for index in range(3)]


def test_the_lean_step_runs_one_layer_and_one_direction_only() -> None:
    with pytest.raises(ValueError, match="one layer and one direction, got num_layers=2"):
        rnnkit.MinGRU(3, 4, num_layers=2).step(torch.randn(2, 3), torch.zeros(2, 4))
