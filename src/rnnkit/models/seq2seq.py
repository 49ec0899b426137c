"""Encoder-decoder with optional attention: the bottleneck and what attention does about it.

The encoder is a rnnkit recurrent layer over the embedded source (bidirectional by
default), run with the source lengths. A *bridge* maps its final states to the decoder's
initial state (a linear map and tanh per state part, directions joined). The decoder is a
rnnkit layer of any cell, stepped one target token at a time:

- ``attention="none"``: the decoder's output predicts the next token. Everything the
  decoder knows of the source passed through the bridge: one fixed-size vector, the
  bottleneck.
- ``"additive"``, ``"dot"``, ``"general"``: Luong et al. (2015)'s global attention with
  the chosen score (:mod:`rnnkit.models.attention`). The decoder output ``h_t`` queries the
  encoder outputs (projected to the decoder's size), the context ``c_t`` and ``h_t`` make
  the attentional state ``h~_t = tanh(W_c [c_t; h_t])``, which predicts the next token.
  With ``input_feeding`` ``h~_t`` is also fed to the next step with the next token's
  embedding, so the decoder knows what it attended to.

Teacher forcing feeds the true previous token; ``teacher_forcing < 1`` feeds the model's
own previous prediction instead with probability ``1 - teacher_forcing``, per row and step.
Under full teacher forcing and without input feeding no step waits for the one before's
attention, so :meth:`Seq2Seq.forward` runs the decoder over the whole target as one layer
call (the fused kernels) and attends for all steps at once; with input feeding, or with
the model's own tokens fed back, it steps.

Shapes (batch first throughout):
    source:         (batch, source) int64, padded with ``pad_id``
    source_lengths: (batch,) int64, each >= 1
    target_input:   (batch, target) int64, starting with ``bos_id``
    logits:         (batch, target, target_vocab)
    attention:      (batch, target, source), or None without attention
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.catalog import CELL_NAMES
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.factory import build_layer
from rnnkit.models.attention import SCORES, Attention
from rnnkit.models.language_model import ARCHITECTURES
from rnnkit.validation import (
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SIZE,
    Rule,
    check_fields,
    check_lengths,
    check_positive_int,
)

ATTENTIONS = ("none", *SCORES)


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Shape of a :class:`Seq2Seq`; saved as JSON next to its weights.

    ``architecture="transformer"`` describes the baseline
    :class:`~rnnkit.models.transformer_seq2seq.TransformerSeq2Seq` instead: ``hidden_size``
    wide, ``num_layers`` encoder and decoder layers, ``num_heads`` heads, sequences of up
    to ``max_length`` positions; the recurrent and attention options do not apply to it.

    The vocabulary sizes are filled in from the data when a run starts; the special ids
    are :mod:`rnnkit.data.pairs`' (padding 0, begin 1, end 2).
    """

    source_vocab_size: int = 0
    target_vocab_size: int = 0
    architecture: str = "rnn"
    cell: str = "lstm"
    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = True
    attention: str = "additive"
    input_feeding: bool = True
    dropout: float = 0.2
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    num_heads: int = 4
    max_length: int = 64

    RANGES: ClassVar[dict[str, Rule]] = {
        "source_vocab_size": ">= 0", "target_vocab_size": ">= 0",
        "architecture": ARCHITECTURES, "cell": CELL_NAMES, "embedding_size": f"[1, {MAX_SIZE}]",
        "hidden_size": f"[1, {MAX_SIZE}]", "num_layers": f"[1, {MAX_LAYERS}]",
        "attention": ATTENTIONS, "dropout": "[0, 1)", "pad_id": ">= 0", "bos_id": ">= 0",
        "eos_id": ">= 0", "num_heads": "[1, 1024]", "max_length": f"[1, {MAX_LENGTH}]"}

    def __post_init__(self) -> None:
        owner = "Seq2SeqConfig"
        check_fields(self)
        if self.architecture == "transformer" and self.hidden_size % self.num_heads:
            raise ValueError(f"{owner}: a Transformer's hidden_size must divide into "
                             f"num_heads={self.num_heads} heads, got {self.hidden_size}")


@dataclass
class EncodedSource:
    """What the decoder reads of the source: keys (batch, source, hidden) and the mask."""

    keys: Tensor
    mask: Tensor

    def index_select(self, rows: Tensor) -> EncodedSource:
        """The rows ``rows`` (beam search reorders and repeats rows)."""
        return EncodedSource(self.keys.index_select(0, rows), self.mask.index_select(0, rows))


@dataclass
class DecoderState:
    """The decoder's recurrent state and its last attentional vector (input feeding)."""

    recurrent: tuple[Tensor, ...]  # each (layers, batch, hidden)
    attentional: Tensor  # (batch, hidden)

    def index_select(self, rows: Tensor) -> DecoderState:
        """The rows ``rows`` of the batch."""
        return DecoderState(tuple(part.index_select(1, rows) for part in self.recurrent),
                            self.attentional.index_select(0, rows))


@dataclass
class Seq2SeqOutput:
    """Logits for every target step, and the attention weights when there is attention."""

    logits: Tensor
    attention: Tensor | None


def _recurrent_layer(cell: str, input_size: int, config: Seq2SeqConfig,
                     bidirectional: bool) -> RecurrentLayer:
    return build_layer(cell, input_size, config.hidden_size, num_layers=config.num_layers,
                       bidirectional=bidirectional, dropout=config.dropout)


class Seq2Seq(nn.Module):
    """RNN encoder-decoder with none/additive/dot/general attention (see the module docs).

    Example:
        >>> model = Seq2Seq(Seq2SeqConfig(source_vocab_size=10, target_vocab_size=12,
        ...                               hidden_size=16, embedding_size=8))
        >>> out = model(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]),
        ...             torch.tensor([[1, 3], [1, 4]]))
        >>> out.logits.shape, out.attention.shape
        (torch.Size([2, 2, 12]), torch.Size([2, 2, 3]))
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        check_positive_int("Seq2Seq", "source_vocab_size", config.source_vocab_size)
        check_positive_int("Seq2Seq", "target_vocab_size", config.target_vocab_size)
        self.config = config
        hidden, directions = config.hidden_size, 2 if config.bidirectional else 1
        self.source_embedding = nn.Embedding(config.source_vocab_size, config.embedding_size,
                                             padding_idx=config.pad_id)
        self.encoder = _recurrent_layer(config.cell, config.embedding_size, config,
                                        config.bidirectional)
        self.bridges = nn.ModuleList(nn.Linear(directions * hidden, hidden)
                                     for _ in self.encoder.state_sizes())
        self.target_embedding = nn.Embedding(config.target_vocab_size, config.embedding_size,
                                             padding_idx=config.pad_id)
        self.has_attention = config.attention != "none"
        feeding = hidden if self.has_attention and config.input_feeding else 0
        self.decoder = _recurrent_layer(config.cell, config.embedding_size + feeding, config,
                                        bidirectional=False)
        if self.has_attention:
            self.key_projection = nn.Linear(directions * hidden, hidden, bias=False)
            self.attention = Attention(config.attention, hidden, hidden)
            self.attentional = nn.Linear(2 * hidden, hidden, bias=False)
        self.output = nn.Linear(hidden, config.target_vocab_size)

    # --- encoder -----------------------------------------------------------------------
    def encode(self, source: Tensor, source_lengths: Tensor) -> tuple[EncodedSource,
                                                                       DecoderState]:
        """Run the encoder; returns what attention reads and the decoder's first state."""
        batch, steps = self._check_source(source)
        lengths = check_lengths("Seq2Seq", source_lengths, batch=batch, time=steps)
        embedded = F.dropout(self.source_embedding(source), self.config.dropout, self.training)
        outputs, final = self.encoder(embedded, lengths=lengths)  # (batch, source, dirs * h)
        parts = final if isinstance(final, tuple) else (final,)
        initial = tuple(torch.tanh(bridge(self._join_directions(part)))
                        for bridge, part in zip(self.bridges, parts, strict=True))
        mask = torch.arange(steps, device=source.device) < lengths.to(source.device)[:, None]
        keys = self.key_projection(outputs) if self.has_attention else outputs
        attentional = outputs.new_zeros(batch, self.config.hidden_size)
        return EncodedSource(keys, mask), DecoderState(initial, attentional)

    def _join_directions(self, part: Tensor) -> Tensor:
        """(layers * dirs, batch, h) -> (layers, batch, dirs * h)."""
        directions = 2 if self.config.bidirectional else 1
        layers, batch = self.config.num_layers, part.shape[1]
        part = part.view(layers, directions, batch, -1)
        return part.permute(0, 2, 1, 3).reshape(layers, batch, -1)

    def _check_source(self, source: Tensor) -> tuple[int, int]:
        if source.dim() != 2 or source.dtype != torch.long:
            raise ValueError(f"Seq2Seq expected source token ids as a (batch, source) int64 "
                             f"tensor, got shape {tuple(source.shape)} and dtype {source.dtype}")
        return source.shape[0], source.shape[1]

    # --- decoder -----------------------------------------------------------------------
    def decode_step(self, tokens: Tensor, state: DecoderState, memory: EncodedSource
                    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoder step from the previous tokens (batch,): logits (batch, vocab), the
        new state, and the attention weights (batch, source) or None."""
        embedded = F.dropout(self.target_embedding(tokens), self.config.dropout, self.training)
        if self.has_attention and self.config.input_feeding:
            embedded = torch.cat([embedded, state.attentional], dim=1)
        recurrent = state.recurrent if len(state.recurrent) > 1 else state.recurrent[0]
        output, recurrent = self.decoder(embedded.unsqueeze(1), recurrent)
        output = output.squeeze(1)  # (batch, hidden)
        recurrent = recurrent if isinstance(recurrent, tuple) else (recurrent,)
        weights = None
        if self.has_attention:
            context, weights = self.attention(output, memory.keys, memory.mask)
            output = torch.tanh(self.attentional(torch.cat([context, output], dim=1)))
        logits = self.output(F.dropout(output, self.config.dropout, self.training))
        return logits, DecoderState(recurrent, output), weights

    def forward(self, source: Tensor, source_lengths: Tensor, target_input: Tensor,
                teacher_forcing: float = 1.0,
                generator: torch.Generator | None = None) -> Seq2SeqOutput:
        """Logits for every target step (see the module docstring for shapes)."""
        if target_input.dim() != 2 or target_input.shape[0] != source.shape[0]:
            raise ValueError(f"Seq2Seq expected target_input of shape (batch={source.shape[0]}, "
                             f"target), got {tuple(target_input.shape)}")
        memory, state = self.encode(source, source_lengths)
        if teacher_forcing >= 1.0 and not (self.has_attention and self.config.input_feeding):
            return self._decode_teacher_forced(target_input, state, memory)
        logits, weights = [], []
        tokens = target_input[:, 0]
        for step in range(target_input.shape[1]):
            step_logits, state, step_weights = self.decode_step(tokens, state, memory)
            logits.append(step_logits)
            weights.append(step_weights)
            if step + 1 < target_input.shape[1]:
                tokens = self._next_input(target_input[:, step + 1], step_logits,
                                          teacher_forcing, generator)
        attention = torch.stack(weights, dim=1) if self.has_attention else None
        return Seq2SeqOutput(torch.stack(logits, dim=1), attention)

    def _decode_teacher_forced(self, target_input: Tensor, state: DecoderState,
                               memory: EncodedSource) -> Seq2SeqOutput:
        """All target steps in one decoder call; the same numbers as stepping."""
        embedded = F.dropout(self.target_embedding(target_input), self.config.dropout,
                             self.training)
        recurrent = state.recurrent if len(state.recurrent) > 1 else state.recurrent[0]
        output, _ = self.decoder(embedded, recurrent)  # (batch, target, hidden)
        weights = None
        if self.has_attention:
            context, weights = self.attention(output, memory.keys, memory.mask)
            output = torch.tanh(self.attentional(torch.cat([context, output], dim=2)))
        logits = self.output(F.dropout(output, self.config.dropout, self.training))
        return Seq2SeqOutput(logits, weights)

    @staticmethod
    def _next_input(truth: Tensor, logits: Tensor, teacher_forcing: float,
                    generator: torch.Generator | None) -> Tensor:
        if teacher_forcing >= 1.0:
            return truth
        own = logits.argmax(dim=1)
        draw = torch.rand(truth.shape[0], generator=generator).to(truth.device)
        return torch.where(draw < teacher_forcing, truth, own)
