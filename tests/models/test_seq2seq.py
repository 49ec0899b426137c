"""The encoder-decoder: a batch equals its rows one at a time, padding is invisible,
teacher forcing and the bottleneck behave as documented."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

ATTENTIONS = ["none", "additive", "dot", "general"]


def model_for(attention: str, cell: str = "lstm", **options) -> Seq2Seq:
    torch.manual_seed(0)
    config = Seq2SeqConfig(source_vocab_size=11, target_vocab_size=9, embedding_size=6,
                           hidden_size=8, attention=attention, cell=cell, **options)
    return Seq2Seq(config).eval()


def padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    source = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [5, 3, 10, 0, 0]])
    lengths = torch.tensor([5, 2, 3])
    target = torch.tensor([[1, 3, 4, 5], [1, 6, 7, 8], [1, 4, 4, 3]])
    return source, lengths, target


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_a_batch_gives_each_row_what_it_gives_alone(attention: str, cell: str) -> None:
    model = model_for(attention, cell, num_layers=2)
    source, lengths, target = padded_batch()
    together = model(source, lengths, target)
    for row in range(3):
        alone = model(source[row:row + 1, :lengths[row]], lengths[row:row + 1],
                      target[row:row + 1])
        torch.testing.assert_close(together.logits[row], alone.logits[0], rtol=0, atol=1e-6)
        if attention != "none":
            torch.testing.assert_close(together.attention[row, :, :lengths[row]],
                                       alone.attention[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("attention", ATTENTIONS[1:])
def test_attention_sums_to_one_and_ignores_padding(attention: str) -> None:
    model = model_for(attention)
    source, lengths, target = padded_batch()
    weights = model(source, lengths, target).attention  # (batch, target, source)
    torch.testing.assert_close(weights.sum(dim=2), torch.ones(3, 4), rtol=0, atol=1e-6)
    for row, length in enumerate(lengths.tolist()):
        assert torch.all(weights[row, :, length:] == 0)
    junk = source.clone()
    junk[1, 2:] = 10
    torch.testing.assert_close(model(junk, lengths, target).logits,
                               model(source, lengths, target).logits, rtol=0, atol=0)


def test_without_attention_the_decoder_sees_only_the_bridge() -> None:
    """The bottleneck: the output is None for attention, and the source reaches the
    decoder only through its initial state (changing that state changes everything)."""
    model = model_for("none")
    source, lengths, target = padded_batch()
    output = model(source, lengths, target)
    assert output.attention is None
    memory, state = model.encode(source, lengths)
    logits, _, weights = model.decode_step(target[:, 0], state, memory)
    assert weights is None
    torch.testing.assert_close(logits, output.logits[:, 0], rtol=0, atol=1e-6)


def test_full_teacher_forcing_equals_stepping_with_the_truth() -> None:
    model = model_for("general")
    source, lengths, target = padded_batch()
    memory, state = model.encode(source, lengths)
    stepped = []
    for step in range(target.shape[1]):
        logits, state, _ = model.decode_step(target[:, step], state, memory)
        stepped.append(logits)
    torch.testing.assert_close(model(source, lengths, target).logits,
                               torch.stack(stepped, dim=1), rtol=0, atol=0)


def test_no_teacher_forcing_feeds_back_the_models_own_choices() -> None:
    model = model_for("additive")
    source, lengths, target = padded_batch()
    free = model(source, lengths, target, teacher_forcing=0.0)
    own = target.clone()
    own[:, 1:] = free.logits[:, :-1].argmax(dim=2)
    torch.testing.assert_close(free.logits, model(source, lengths, own).logits, rtol=0, atol=0)


def test_every_parameter_gets_a_gradient() -> None:
    model = model_for("additive", num_layers=2).train()
    source, lengths, target = padded_batch()
    logits = model(source, lengths, target).logits
    torch.nn.functional.cross_entropy(logits.reshape(-1, 9), target.reshape(-1)).backward()
    missing = [name for name, p in model.named_parameters()
               if p.grad is None or not torch.any(p.grad != 0)]
    # Padding rows of the embeddings are fixed at zero by design.
    assert missing == [], missing


def test_bad_inputs_are_named() -> None:
    model = model_for("dot")
    source, lengths, target = padded_batch()
    with pytest.raises(ValueError, match=r"source token ids as a \(batch, source\) int64"):
        model(source.float(), lengths, target)
    with pytest.raises(ValueError, match="lengths no longer than the time axis"):
        model(source, torch.tensor([5, 2, 6]), target)
    with pytest.raises(ValueError, match=r"target_input of shape \(batch=3, target\)"):
        model(source, lengths, target[:2])
    with pytest.raises(ValueError, match='attention must be one of "none", "additive"'):
        Seq2SeqConfig(source_vocab_size=3, target_vocab_size=3, attention="luong")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_the_one_call_decoder_equals_stepping(attention: str, cell: str) -> None:
    """Without input feeding, full teacher forcing runs the decoder over the whole target
    in one call; forward and backward must match stepping with the truth."""
    model = model_for(attention, cell, num_layers=2, input_feeding=False).double()
    source, lengths, target = padded_batch()
    output = model(source, lengths, target)
    memory, state = model.encode(source, lengths)
    stepped, weights = [], []
    for step in range(target.shape[1]):
        logits, state, step_weights = model.decode_step(target[:, step], state, memory)
        stepped.append(logits)
        weights.append(step_weights)
    stepped = torch.stack(stepped, dim=1)
    torch.testing.assert_close(output.logits, stepped, rtol=0, atol=1e-12)
    if attention != "none":
        torch.testing.assert_close(output.attention, torch.stack(weights, dim=1),
                                   rtol=0, atol=1e-12)
    together = torch.autograd.grad(output.logits.square().sum(), list(model.parameters()),
                                   allow_unused=True)
    one_by_one = torch.autograd.grad(stepped.square().sum(), list(model.parameters()),
                                     allow_unused=True)
    for fast, slow in zip(together, one_by_one, strict=True):
        if fast is None:
            assert slow is None
        else:
            torch.testing.assert_close(fast, slow, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("architecture", ["rnn", "transformer"])
def test_the_transformer_baseline_keeps_rows_apart_and_steps_as_it_trains(
        architecture: str) -> None:
    """The Transformer encoder-decoder answers the same calls: a padded batch gives each
    row what it gives alone, and stepping with the truth gives the one-pass logits."""
    from rnnkit.models.factory import build_seq2seq

    torch.manual_seed(0)
    model = build_seq2seq(Seq2SeqConfig(source_vocab_size=11, target_vocab_size=9,
                                        architecture=architecture, hidden_size=8,
                                        embedding_size=6, num_heads=2, num_layers=2)).eval()
    source, lengths, target = padded_batch()
    together = model(source, lengths, target).logits
    for row in range(3):
        alone = model(source[row:row + 1, :lengths[row]], lengths[row:row + 1],
                      target[row:row + 1]).logits
        torch.testing.assert_close(together[row], alone[0], rtol=0, atol=1e-5)
    memory, state = model.encode(source, lengths)
    stepped = []
    for step in range(target.shape[1]):
        logits, state, _ = model.decode_step(target[:, step], state, memory)
        stepped.append(logits)
    torch.testing.assert_close(torch.stack(stepped, dim=1), together, rtol=0, atol=1e-5)


def test_the_transformer_baseline_names_what_it_cannot_do() -> None:
    from rnnkit.models.transformer_seq2seq import TransformerSeq2Seq

    with pytest.raises(ValueError, match="hidden_size must divide into num_heads=3"):
        Seq2SeqConfig(architecture="transformer", hidden_size=8, num_heads=3)
    model = TransformerSeq2Seq(Seq2SeqConfig(source_vocab_size=11, target_vocab_size=9,
                                             architecture="transformer", hidden_size=8,
                                             num_heads=2, max_length=4))
    source, lengths, target = padded_batch()
    with pytest.raises(ValueError, match="at most max_length=4 source positions, got 5"):
        model(source, lengths, target)
    with pytest.raises(ValueError, match="full teacher forcing only"):
        model(source[:, :4], lengths.clamp(max=4), target, teacher_forcing=0.5)
