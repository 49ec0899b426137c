"""The Transformer language model: the baseline the recurrent models are measured against.

A decoder-only Transformer (GPT-style, pre-norm) built from ``torch.nn`` parts: token
embedding plus a learned position embedding, ``num_layers`` of
:class:`torch.nn.TransformerEncoderLayer` (``norm_first``, GELU, feed-forward of
``4 * hidden_size``) under a causal mask, a final LayerNorm and a linear head (tied to the
embedding with ``tie_weights``). It takes the same :class:`ModelConfig` as the recurrent
:class:`~rnnkit.models.language_model.LanguageModel` (``architecture="transformer"``;
``hidden_size`` is the model width, ``num_heads`` its attention heads, ``context`` the
positions it can see) and the same call, so the trainer, evaluation and sampling serve both.

Its *state* is what an RNN's hidden state is to the RNN: everything it keeps of the past.
For a Transformer that is the key/value cache of every past position (up to ``context``)
and the token embeddings they came from, so the state grows with the text where an RNN's
stays one vector per layer: the trade the comparison in ``docs/rnn-vs-transformer.md``
measures. A call whose new tokens fit in the context after the cached ones attends to the
cache (each new token costs one row of attention); when they do not fit, the last
``min(context // 2, context - new)`` past positions are re-encoded at positions from 0
with the new tokens (one full pass; the halving leaves room for the next calls, so
sampling past the context re-encodes once every ``context // 2`` tokens). A call of more
than ``context`` tokens runs as calls of ``context // 2`` in turn.

Shapes:
    tokens: (batch, time) int64
    logits: (batch, time, vocab)
    state:  ``(embeddings, keys, values)``, batch in dim 1 like a recurrent state:
            embeddings (1, batch, past, hidden); keys, values (layers, batch, past, hidden)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.models.language_model import EMBEDDING_INIT_RANGE, ModelConfig, _check_tokens
from rnnkit.validation import check_positive_int

TransformerState = tuple[Tensor, Tensor, Tensor]


class TransformerLanguageModel(nn.Module):
    """Causal Transformer over tokens with a key/value cache as its state (module docs).

    Example:
        >>> config = ModelConfig(vocab_size=30, architecture="transformer", hidden_size=16,
        ...                      num_layers=2, num_heads=2, context=32)
        >>> model = TransformerLanguageModel(config).eval()
        >>> logits, state = model(torch.zeros(2, 5, dtype=torch.long))
        >>> logits.shape, state[1].shape
        (torch.Size([2, 5, 30]), torch.Size([2, 2, 5, 16]))
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        check_positive_int("TransformerLanguageModel", "vocab_size", config.vocab_size)
        if config.architecture != "transformer" or config.condition_sizes \
                or config.embedding != "learned":
            raise ValueError("TransformerLanguageModel needs architecture='transformer', "
                             "embedding='learned' and no condition_sizes")
        self.config = config
        width = config.hidden_size
        self.embedding = nn.Embedding(config.vocab_size, width)
        self.positions = nn.Embedding(config.context, width)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(width, config.num_heads, 4 * width, config.dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(width)
        self.decoder = nn.Linear(width, config.vocab_size)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE)
            nn.init.normal_(self.positions.weight, std=0.02)
            nn.init.zeros_(self.decoder.bias)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: TransformerState | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, TransformerState]:
        """Logits for the next token at every step, and the state after the last step."""
        if lengths is not None:
            raise ValueError("TransformerLanguageModel does not take lengths: pad on the "
                             "right and ignore the logits past each row's end")
        _check_tokens(self.config, tokens)
        context, new = self.config.context, tokens.shape[1]
        if new > context:
            return self._forward_in_chunks(tokens, state)
        embedded = self.embedding(tokens)  # (batch, time, hidden)
        past_embeddings, keys, values = self._past(state, embedded)
        dropped = 0
        if past_embeddings.shape[2] + new > context:
            # Re-encode the newest past positions that fit with the new tokens, from
            # position 0; their outputs were given by earlier calls and are dropped.
            dropped = min(context // 2, context - new, past_embeddings.shape[2])
            kept = past_embeddings[0, :, past_embeddings.shape[2] - dropped:]
            embedded = torch.cat([kept, embedded], dim=1)
            past_embeddings, keys, values = self._past(None, embedded)
        output, keys, values = self._layers(embedded, keys, values)
        output = F.dropout(self.norm(output[:, dropped:]), self.config.dropout, self.training)
        embeddings = torch.cat([past_embeddings, embedded.unsqueeze(0)], dim=2)
        return self.decoder(output), (embeddings, keys, values)

    def _forward_in_chunks(self, tokens: Tensor, state: TransformerState | None
                           ) -> tuple[Tensor, TransformerState]:
        """A call longer than the context, as calls of ``context // 2`` tokens in turn."""
        size, pieces = max(1, self.config.context // 2), []
        for start in range(0, tokens.shape[1], size):
            logits, state = self(tokens[:, start:start + size], state)
            pieces.append(logits)
        return torch.cat(pieces, dim=1), state

    def _past(self, state: TransformerState | None, embedded: Tensor) -> TransformerState:
        """The state's tensors, or empty ones for a first call."""
        batch, width = embedded.shape[0], embedded.shape[2]
        if state is None:
            empty = embedded.new_zeros(self.config.num_layers, batch, 0, width)
            return embedded.new_zeros(1, batch, 0, width), empty, empty
        if not isinstance(state, tuple) or len(state) != 3 or state[0].dim() != 4 \
                or state[0].shape[1] != batch:
            raise ValueError(f"TransformerLanguageModel expected the (embeddings, keys, "
                             f"values) state it returned for a batch of {batch} rows")
        return state

    def _layers(self, embedded: Tensor, keys: Tensor, values: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        """Every layer over the new positions, attending to the cached ones before them.
        embedded (batch, new, hidden); keys, values (layers, batch, past, hidden)."""
        past, new = keys.shape[2], embedded.shape[1]
        positions = torch.arange(past, past + new, device=embedded.device)
        hidden = F.dropout(embedded + self.positions(positions), self.config.dropout,
                           self.training)
        all_keys, all_values = [], []
        for index, layer in enumerate(self.layers):
            hidden, layer_keys, layer_values = self._layer(layer, hidden, keys[index],
                                                           values[index])
            all_keys.append(layer_keys)
            all_values.append(layer_values)
        return hidden, torch.stack(all_keys), torch.stack(all_values)

    def _layer(self, layer: nn.TransformerEncoderLayer, hidden: Tensor, past_keys: Tensor,
               past_values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One pre-norm layer, its self-attention written out so that it can read the
        cache; the weights are the ``torch.nn`` layer's own (tested against its forward)."""
        attention, heads = layer.self_attn, self.config.num_heads
        query, key, value = F.linear(layer.norm1(hidden), attention.in_proj_weight,
                                     attention.in_proj_bias).chunk(3, dim=2)
        keys = torch.cat([past_keys, key], dim=1)  # (batch, past + new, hidden)
        values = torch.cat([past_values, value], dim=1)
        past, new = past_keys.shape[1], hidden.shape[1]
        mixed = F.scaled_dot_product_attention(
            _split_heads(query, heads), _split_heads(keys, heads), _split_heads(values, heads),
            attn_mask=None if past == 0 or new == 1 else _causal_mask(past, new, hidden.device),
            is_causal=past == 0 and new > 1,
            dropout_p=attention.dropout if self.training else 0.0)
        mixed = mixed.transpose(1, 2).reshape(hidden.shape)  # (batch, new, hidden)
        hidden = hidden + layer.dropout1(attention.out_proj(mixed))
        feed_forward = layer.linear2(layer.dropout(layer.activation(
            layer.linear1(layer.norm2(hidden)))))
        return hidden + layer.dropout2(feed_forward), keys, values

    def extra_repr(self) -> str:
        return f"context={self.config.context}, num_heads={self.config.num_heads}"


def _split_heads(tensor: Tensor, heads: int) -> Tensor:
    """(batch, time, hidden) -> (batch, heads, time, hidden // heads)."""
    batch, time, width = tensor.shape
    return tensor.view(batch, time, heads, width // heads).transpose(1, 2)


def _causal_mask(past: int, new: int, device: torch.device) -> Tensor:
    """(new, past + new) bool, True where new position ``i`` may look: keys ``<= past + i``."""
    return (torch.arange(past + new, device=device)
            <= torch.arange(past, past + new, device=device)[:, None])
