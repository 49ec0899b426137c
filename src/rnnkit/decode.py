"""Decoding a :class:`~rnnkit.models.seq2seq.Seq2Seq`: greedy, beam search and sampling.

All three run a whole batch at once and return, per source row, the target token ids up
to (not including) the end token; a row that reaches ``max_length`` without one is cut
there. Beam search keeps ``beam_width`` hypotheses per row, lets a finished hypothesis
stay as it is (its score frozen) while the others grow, and ranks finished hypotheses by
their log-probability divided by ``length ** length_penalty`` (0: the raw sum, which
favours short outputs; 1: the mean per token). With width 1 it is greedy decoding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.validation import check_positive_int


@contextlib.contextmanager
def _evaluating(model: Seq2Seq) -> Iterator[None]:
    """Eval mode (no dropout) for the decoding, then the caller's mode back."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _start(model: Seq2Seq, source: Tensor, source_lengths: Tensor):
    memory, state = model.encode(source, source_lengths)
    tokens = torch.full((source.shape[0],), model.config.bos_id, dtype=torch.long,
                        device=source.device)
    return memory, state, tokens


def _trim(rows: Tensor, eos_id: int) -> list[list[int]]:
    """Each row's ids before its first end token."""
    result = []
    for row in rows.tolist():
        result.append(row[: row.index(eos_id)] if eos_id in row else row)
    return result


@torch.no_grad()
def greedy_decode(model: Seq2Seq, source: Tensor, source_lengths: Tensor,
                  max_length: int) -> list[list[int]]:
    """The most likely token at every step."""
    return _decode(model, source, source_lengths, max_length, lambda logits: logits.argmax(1))


@torch.no_grad()
def sample_decode(model: Seq2Seq, source: Tensor, source_lengths: Tensor, max_length: int,
                  temperature: float = 1.0,
                  generator: torch.Generator | None = None) -> list[list[int]]:
    """A token drawn from ``softmax(logits / temperature)`` at every step."""
    if temperature <= 0:
        raise ValueError(f"sample_decode expected temperature > 0, got {temperature}")

    def draw(logits: Tensor) -> Tensor:
        probabilities = torch.softmax(logits / temperature, dim=1)
        return torch.multinomial(probabilities, 1, generator=generator).squeeze(1)

    return _decode(model, source, source_lengths, max_length, draw)


def _decode(model, source, source_lengths, max_length, choose) -> list[list[int]]:
    check_positive_int("decode", "max_length", max_length)
    with _evaluating(model):
        memory, state, tokens = _start(model, source, source_lengths)
        eos = model.config.eos_id
        finished = torch.zeros_like(tokens, dtype=torch.bool)
        chosen = []
        for _ in range(max_length):
            logits, state, _ = model.decode_step(tokens, state, memory)
            tokens = torch.where(finished, eos, choose(logits))
            chosen.append(tokens)
            finished |= tokens == eos
            if bool(finished.all()):
                break
    return _trim(torch.stack(chosen, dim=1), eos)


@torch.no_grad()
def beam_search(model: Seq2Seq, source: Tensor, source_lengths: Tensor, max_length: int,
                beam_width: int = 5, length_penalty: float = 1.0) -> list[list[int]]:
    """The best of ``beam_width`` hypotheses per row (see the module docstring)."""
    check_positive_int("beam_search", "max_length", max_length)
    check_positive_int("beam_search", "beam_width", beam_width)
    with _evaluating(model):
        return _beam_search(model, source, source_lengths, max_length, beam_width,
                            length_penalty)


def _beam_search(model: Seq2Seq, source: Tensor, source_lengths: Tensor, max_length: int,
                 beam_width: int, length_penalty: float) -> list[list[int]]:
    batch, width, eos = source.shape[0], beam_width, model.config.eos_id
    rows = torch.arange(batch, device=source.device).repeat_interleave(width)
    memory, state, tokens = _start(model, source.index_select(0, rows),
                                   source_lengths.index_select(0, rows.to(
                                       source_lengths.device)))
    scores = torch.full((batch, width), float("-inf"), device=source.device)
    scores[:, 0] = 0.0  # every beam starts as the same hypothesis: keep one of them
    finished = torch.zeros(batch, width, dtype=torch.bool, device=source.device)
    lengths = torch.zeros(batch, width, device=source.device)
    history = torch.empty(batch * width, 0, dtype=torch.long, device=source.device)
    for _ in range(max_length):
        logits, state, _ = model.decode_step(tokens, state, memory)
        log_probs = torch.log_softmax(logits.float(), dim=1).view(batch, width, -1)
        vocab = log_probs.shape[2]
        # A finished hypothesis may only repeat the end token, at no cost.
        frozen = torch.full((vocab,), float("-inf"), device=source.device)
        frozen[eos] = 0.0
        log_probs = torch.where(finished.unsqueeze(2), frozen, log_probs)
        top_scores, top = (scores.unsqueeze(2) + log_probs).view(batch, -1).topk(width, dim=1)
        beam, token = top // vocab, top % vocab  # (batch, width) each
        flat = (torch.arange(batch, device=source.device).unsqueeze(1) * width + beam).view(-1)
        state = state.index_select(flat)
        history = torch.cat([history.index_select(0, flat), token.view(-1, 1)], dim=1)
        was_finished = finished.gather(1, beam)
        lengths = lengths.gather(1, beam) + (~was_finished).float()
        finished = was_finished | (token == eos)
        scores, tokens = top_scores, token.view(-1)
        if bool(finished.all()):
            break
    normalized = scores / lengths.clamp(min=1.0) ** length_penalty
    normalized = torch.where(torch.isfinite(scores), normalized, float("-inf"))
    best = normalized.argmax(dim=1)
    chosen = history.view(batch, width, -1)[torch.arange(batch), best]
    return _trim(chosen, eos)
