"""The Transformer encoder-decoder: the baseline :class:`~rnnkit.models.seq2seq.Seq2Seq`
is measured against.

``torch.nn.Transformer`` (pre-norm, GELU, feed-forward of ``4 * hidden_size``) between
token embeddings plus learned position embeddings on each side and a linear head. Every
decoder position attends to all earlier target positions and, through cross-attention
with the padded source positions masked out, to the whole source: no bottleneck and no
recurrence, so a teacher-forced target trains in one parallel pass.

It answers the same calls as :class:`~rnnkit.models.seq2seq.Seq2Seq`, so the decoders of
:mod:`rnnkit.decode` and the G2P loop serve both: ``encode`` gives the encoder output
(as :class:`~rnnkit.models.seq2seq.EncodedSource`) and an empty :class:`TargetPrefix`;
``decode_step`` appends the previous tokens to the prefix and runs the decoder over it
(no key/value cache: the targets here are a few dozen tokens).

Shapes (batch first throughout):
    source:         (batch, source) int64, padded with ``pad_id``
    source_lengths: (batch,) int64, each >= 1
    target_input:   (batch, target) int64, starting with ``bos_id``
    logits:         (batch, target, target_vocab)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.models.seq2seq import EncodedSource, Seq2SeqConfig, Seq2SeqOutput
from rnnkit.validation import check_lengths, check_positive_int


@dataclass
class TargetPrefix:
    """The target tokens fed to the decoder so far, (batch, steps)."""

    tokens: Tensor

    def index_select(self, rows: Tensor) -> TargetPrefix:
        """The rows ``rows`` of the batch (beam search reorders and repeats rows)."""
        return TargetPrefix(self.tokens.index_select(0, rows))


class TransformerSeq2Seq(nn.Module):
    """Transformer encoder-decoder with the :class:`Seq2Seq` interface (module docs).

    Example:
        >>> model = TransformerSeq2Seq(Seq2SeqConfig(
        ...     source_vocab_size=10, target_vocab_size=12, architecture="transformer",
        ...     hidden_size=16, num_heads=2, num_layers=1))
        >>> out = model(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]),
        ...             torch.tensor([[1, 3], [1, 4]]))
        >>> out.logits.shape, out.attention
        (torch.Size([2, 2, 12]), None)
    """

    has_attention = False  # no single alignment to draw: heads and layers each have one

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        check_positive_int("TransformerSeq2Seq", "source_vocab_size", config.source_vocab_size)
        check_positive_int("TransformerSeq2Seq", "target_vocab_size", config.target_vocab_size)
        if config.architecture != "transformer":
            raise ValueError("TransformerSeq2Seq needs a Seq2SeqConfig with "
                             f"architecture='transformer', got {config.architecture!r}")
        self.config = config
        width = config.hidden_size
        self.source_embedding = nn.Embedding(config.source_vocab_size, width,
                                             padding_idx=config.pad_id)
        self.target_embedding = nn.Embedding(config.target_vocab_size, width,
                                             padding_idx=config.pad_id)
        self.source_positions = nn.Embedding(config.max_length, width)
        self.target_positions = nn.Embedding(config.max_length, width)
        layer = dict(d_model=width, nhead=config.num_heads, dim_feedforward=4 * width,
                     dropout=config.dropout, activation="gelu", batch_first=True,
                     norm_first=True)
        # Built from its parts to turn off the nested-tensor path, which pre-norm cannot use.
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), config.num_layers,
                                        norm=nn.LayerNorm(width), enable_nested_tensor=False)
        decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer), config.num_layers,
                                        norm=nn.LayerNorm(width))
        self.transformer = nn.Transformer(width, config.num_heads, custom_encoder=encoder,
                                          custom_decoder=decoder, batch_first=True)
        self.output = nn.Linear(width, config.target_vocab_size)

    def encode(self, source: Tensor, source_lengths: Tensor
               ) -> tuple[EncodedSource, TargetPrefix]:
        """The encoder output (batch, source, hidden) with its mask, and an empty prefix."""
        if source.dim() != 2 or source.dtype != torch.long:
            raise ValueError(f"TransformerSeq2Seq expected source token ids as a (batch, "
                             f"source) int64 tensor, got shape {tuple(source.shape)} and "
                             f"dtype {source.dtype}")
        batch, steps = source.shape
        lengths = check_lengths("TransformerSeq2Seq", source_lengths, batch=batch, time=steps)
        mask = torch.arange(steps, device=source.device) < lengths.to(source.device)[:, None]
        embedded = self._embed(source, self.source_embedding, self.source_positions, "source")
        memory = self.transformer.encoder(embedded, src_key_padding_mask=~mask)
        empty = source.new_zeros(batch, 0)
        return EncodedSource(memory, mask), TargetPrefix(empty)

    def decode_step(self, tokens: Tensor, state: TargetPrefix, memory: EncodedSource
                    ) -> tuple[Tensor, TargetPrefix, None]:
        """Logits (batch, vocab) for the token after ``tokens`` (batch,), and the longer
        prefix; no attention weights."""
        prefix = TargetPrefix(torch.cat([state.tokens, tokens.unsqueeze(1)], dim=1))
        logits = self._decode(prefix.tokens, memory)[:, -1]
        return logits, prefix, None

    def forward(self, source: Tensor, source_lengths: Tensor, target_input: Tensor,
                teacher_forcing: float = 1.0,
                generator: torch.Generator | None = None) -> Seq2SeqOutput:
        """Logits for every target step in one pass (see the module docstring for shapes)."""
        if teacher_forcing < 1.0:
            raise ValueError("TransformerSeq2Seq trains with full teacher forcing only "
                             f"(teacher_forcing=1), got {teacher_forcing}")
        if target_input.dim() != 2 or target_input.shape[0] != source.shape[0]:
            raise ValueError(f"TransformerSeq2Seq expected target_input of shape "
                             f"(batch={source.shape[0]}, target), got "
                             f"{tuple(target_input.shape)}")
        memory, _ = self.encode(source, source_lengths)
        return Seq2SeqOutput(self._decode(target_input, memory), None)

    def _decode(self, target: Tensor, memory: EncodedSource) -> Tensor:
        """Logits (batch, target, vocab) of a causal pass over ``target``."""
        embedded = self._embed(target, self.target_embedding, self.target_positions, "target")
        causal = nn.Transformer.generate_square_subsequent_mask(
            target.shape[1], device=target.device, dtype=embedded.dtype)
        output = self.transformer.decoder(embedded, memory.keys, tgt_mask=causal,
                                          tgt_is_causal=True,
                                          memory_key_padding_mask=~memory.mask)
        return self.output(output)

    def _embed(self, tokens: Tensor, embedding: nn.Embedding, positions: nn.Embedding,
               side: str) -> Tensor:
        steps = tokens.shape[1]
        if steps > self.config.max_length:
            raise ValueError(f"TransformerSeq2Seq encodes at most max_length="
                             f"{self.config.max_length} {side} positions, got {steps}")
        where = torch.arange(steps, device=tokens.device)
        # sqrt(width) scaling as in Vaswani et al. (2017), so positions do not drown tokens
        scale = self.config.hidden_size ** 0.5
        hidden = embedding(tokens) * scale + positions(where)
        return nn.functional.dropout(hidden, self.config.dropout, self.training)
