"""A recurrent language model: embedding, rnnkit recurrent layer, dropout, output layer (a
linear decoder, or an adaptive softmax over a large vocabulary)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.catalog import CATALOG, CELL_NAMES, MINIMAL_KINDS
from rnnkit.cells.init import INIT_SCHEMES
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.factory import build_layer
from rnnkit.layers.residual import ResidualRecurrentStack

# The state helpers' home is layers.state; the language model's public names stay.
from rnnkit.layers.state import RecurrentState, detach_state, map_state  # noqa: F401
from rnnkit.metrics.language import cross_entropy
from rnnkit.validation import (
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SIZE,
    Rule,
    check_fields,
    check_positive_int,
)

EMBEDDINGS = ("learned", "one-hot")
OUTPUT_LAYERS = ("softmax", "adaptive")
DEFAULT_INIT = "uniform"
ARCHITECTURES = ("rnn", "transformer")

EMBEDDING_INIT_RANGE = 0.1


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a :class:`LanguageModel`; saved as JSON next to its weights.

    ``architecture``: ``"rnn"`` (a :class:`LanguageModel` of ``cell``) or
    ``"transformer"`` (:class:`~rnnkit.models.transformer_lm.TransformerLanguageModel`:
    ``hidden_size`` wide, ``num_layers`` deep, ``num_heads`` heads over ``context``
    positions; the recurrent options do not apply to it).
    ``cell="mingru"`` or ``"minlstm"`` builds ``num_layers`` residual blocks (RMSNorm, the
    minimal recurrence, a feed-forward part; :mod:`rnnkit.layers.residual`), as the
    paper's language models; the LSTM/GRU/RNN-only options must keep their defaults then.
    ``vocab_size`` is filled in from the data's vocabulary when a run starts, and so is
    ``condition_sizes`` when the data attaches conditions to every token (the number of
    classes of each, e.g. the keys and meters of ABC tunes); each condition class is
    embedded in ``condition_size`` features and fed with the token at every step.

    ``dropout="auto"`` is set from the passes over the text a run's bounds plan, when
    the run starts (:mod:`rnnkit.training.planned_regularization`); a model is built with
    a number.

    ``output_layer="adaptive"`` replaces the linear decoder and its full softmax by an
    adaptive softmax (Grave et al. 2017, ``torch.nn.AdaptiveLogSoftmaxWithLoss``): the
    tokens below ``adaptive_cutoffs[0]`` sit in the head, the rest in tail clusters whose
    projections shrink by ``adaptive_div_value`` each. It assumes ids ordered by frequency,
    as word vocabularies are (the commonest first). Empty cutoffs mean a fifth and a half of
    the vocabulary. It changes the model, not only its speed.
    """

    vocab_size: int = 0
    architecture: str = "rnn"
    cell: str = "lstm"
    embedding: str = "learned"
    embedding_size: int = 128
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float | Literal["auto"] = 0.2
    tie_weights: bool = False
    proj_size: int = 0
    peephole: bool = False
    forget_bias: float = 1.0
    reset_after: bool = True
    layer_norm: bool = False
    recurrent_dropout: float = 0.0
    weight_dropout: float = 0.0
    init: str = DEFAULT_INIT
    condition_sizes: tuple[int, ...] = ()
    condition_size: int = 16
    num_heads: int = 4
    context: int = 256
    output_layer: str = "softmax"
    adaptive_cutoffs: tuple[int, ...] = ()
    adaptive_div_value: float = 4.0

    RANGES: ClassVar[dict[str, Rule]] = {
        "vocab_size": ">= 0", "architecture": ARCHITECTURES, "cell": CELL_NAMES,
        "embedding": EMBEDDINGS, "embedding_size": f"[1, {MAX_SIZE}]",
        "hidden_size": f"[1, {MAX_SIZE}]", "num_layers": f"[1, {MAX_LAYERS}]",
        "dropout": "[0, 1)", "proj_size": f"[0, {MAX_SIZE}]", "recurrent_dropout": "[0, 1)",
        "weight_dropout": "[0, 1)", "init": INIT_SCHEMES, "condition_size": f"[1, {MAX_SIZE}]",
        "num_heads": "[1, 1024]", "context": f"[1, {MAX_LENGTH}]",
        "output_layer": OUTPUT_LAYERS, "adaptive_div_value": "> 0"}

    def __post_init__(self) -> None:
        owner = "ModelConfig"
        check_fields(self)
        if self.architecture == "transformer" and self.hidden_size % self.num_heads:
            raise ValueError(f"{owner}: a Transformer's hidden_size must divide into "
                             f"num_heads={self.num_heads} heads, got {self.hidden_size}")
        object.__setattr__(self, "condition_sizes", tuple(self.condition_sizes))  # JSON: list
        if any(size < 1 for size in self.condition_sizes):
            raise ValueError(f"{owner}: condition_sizes must be ints >= 1, got "
                             f"{list(self.condition_sizes)}")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{owner}: proj_size must be below hidden_size "
                             f"({self.hidden_size}) or 0, got {self.proj_size}")
        if self.proj_size and self.cell != "lstm":
            raise ValueError(f"{owner}: proj_size needs cell='lstm', got cell={self.cell!r}")
        if self.peephole and self.cell != "lstm":
            raise ValueError(f"{owner}: peephole needs cell='lstm', got cell={self.cell!r}")
        if self.layer_norm and self.cell not in ("lstm", "gru"):
            raise ValueError(f"{owner}: layer_norm needs cell='lstm' or 'gru', "
                             f"got cell={self.cell!r}")
        if CATALOG[self.cell].kind in MINIMAL_KINDS:
            self._check_minimal_options(owner)
        self._check_output_layer(owner)
        fixed_init = CATALOG[self.cell].fixed.get("init")
        if fixed_init is not None and self.init not in (DEFAULT_INIT, fixed_init):
            raise ValueError(f"{owner}: cell={self.cell!r} fixes "
                             f"init={fixed_init!r}, got init={self.init!r}")

    def _check_minimal_options(self, owner: str) -> None:
        for name, default in (("recurrent_dropout", 0.0), ("weight_dropout", 0.0),
                              ("init", DEFAULT_INIT)):
            if getattr(self, name) != default:
                raise ValueError(f"{owner}: {name} has no meaning for cell={self.cell!r} "
                                 f"(its recurrence has no W_hh); leave it at {default!r}, "
                                 f"got {getattr(self, name)!r}")

    def _check_output_layer(self, owner: str) -> None:
        object.__setattr__(self, "adaptive_cutoffs", tuple(self.adaptive_cutoffs))  # JSON: list
        if self.output_layer == "softmax":
            if self.adaptive_cutoffs:
                raise ValueError(f"{owner}: adaptive_cutoffs needs output_layer='adaptive', "
                                 f"got output_layer={self.output_layer!r}")
            return
        if self.architecture != "rnn":
            raise ValueError(f"{owner}: output_layer='adaptive' needs architecture='rnn', "
                             f"got architecture={self.architecture!r}")
        if self.tie_weights:
            raise ValueError(f"{owner}: tie_weights needs output_layer='softmax' (an adaptive "
                             "softmax has no single decoder matrix to share)")
        tails = len(self.adaptive_cutoffs) if self.adaptive_cutoffs else 2
        narrowest = int(self.output_size // self.adaptive_div_value ** tails)
        if narrowest < 1:
            raise ValueError(f"{owner}: the last tail cluster's projection would be "
                             f"{self.output_size} // {self.adaptive_div_value}**{tails} = "
                             f"{narrowest} features wide; lower adaptive_div_value or use "
                             "fewer adaptive_cutoffs")
        if self.vocab_size:
            self.cutoffs()  # checked once the vocabulary is known

    def cutoffs(self) -> tuple[int, ...]:
        """The adaptive softmax's cluster edges: ``adaptive_cutoffs``, or a fifth and a
        half of ``vocab_size`` when it is empty; each checked to rise strictly inside
        ``(0, vocab_size)``."""
        cutoffs = self.adaptive_cutoffs or (self.vocab_size // 5, self.vocab_size // 2)
        edges = (0, *cutoffs, self.vocab_size)
        ints = all(isinstance(c, int) and not isinstance(c, bool) for c in cutoffs)
        if not (ints and all(a < b for a, b in itertools.pairwise(edges))):
            source = "adaptive_cutoffs" if self.adaptive_cutoffs else "the default cutoffs"
            raise ValueError(f"ModelConfig: {source} must be ints rising strictly inside "
                             f"(0, vocab_size={self.vocab_size}), got {list(cutoffs)}")
        return cutoffs

    @property
    def input_size(self) -> int:
        """Features fed to the recurrent layer: the token's embedding (or one-hot vector),
        then one ``condition_size`` embedding per condition."""
        token = self.vocab_size if self.embedding == "one-hot" else self.embedding_size
        return token + len(self.condition_sizes) * self.condition_size

    @property
    def output_size(self) -> int:
        """Features the recurrent layer emits per step."""
        return self.proj_size or self.hidden_size


class OneHot(nn.Module):
    """Token ids (batch, time) to one-hot vectors (batch, time, vocab), as in char-rnn."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        # An empty buffer that follows .to(dtype/device), so the vectors match the model.
        self.register_buffer("dtype_probe", torch.empty(0), persistent=False)

    def forward(self, tokens: Tensor) -> Tensor:
        return F.one_hot(tokens, self.vocab_size).to(self.dtype_probe.dtype)

    def extra_repr(self) -> str:
        return str(self.vocab_size)


def build_recurrent_layer(config: ModelConfig) -> RecurrentLayer | ResidualRecurrentStack:
    """The rnnkit layer a :class:`ModelConfig` describes, batch-first (for a minimal cell,
    the stack of residual blocks)."""
    if CATALOG[config.cell].kind in MINIMAL_KINDS:
        return ResidualRecurrentStack(config.cell, config.input_size, config.hidden_size,
                                      num_layers=config.num_layers, dropout=config.dropout)
    options: dict[str, object] = dict(recurrent_dropout=config.recurrent_dropout,
                                      weight_dropout=config.weight_dropout)
    if "init" not in CATALOG[config.cell].fixed:  # irnn's identity init is its own
        options.update(init=config.init)
    if config.cell == "lstm":
        options.update(proj_size=config.proj_size, peephole=config.peephole,
                       layer_norm=config.layer_norm, forget_bias=config.forget_bias)
    elif config.cell == "gru":
        options.update(reset_after=config.reset_after, layer_norm=config.layer_norm)
    return build_layer(config.cell, config.input_size, config.hidden_size,
                       num_layers=config.num_layers, dropout=config.dropout, **options)


class LanguageModel(nn.Module):
    """Predicts the next token at every step: embedding → recurrent layer → decoder.

    Dropout (Zaremba et al. 2014) is applied to the embedded input, between recurrent
    layers and to the recurrent output; inside the recurrence only when the config asks for
    ``recurrent_dropout`` (variational, Gal & Ghahramani 2016) or ``weight_dropout``
    (DropConnect on ``W_hh``, Merity et al. 2018).
    With ``tie_weights`` the decoder shares the embedding matrix (Press & Wolf 2017;
    Inan et al. 2017), which needs ``output_size == embedding_size``.

    With ``condition_sizes`` (a conditional language model), every input step carries the
    token and its condition ids, ``(batch, time, 1 + conditions)``; each condition is
    embedded and joined to the token's embedding, at every step.

    Shapes:
        tokens:  (batch, time) token ids, or (batch, time, 1 + conditions) with conditions
        lengths: (batch,) optional, real steps per row
        logits:  (batch, time, vocab)
        state:   the recurrent layer's state, (layers, batch, hidden) or a tuple (h, c)

    Example:
        >>> model = LanguageModel(ModelConfig(vocab_size=30, hidden_size=16, embedding_size=8))
        >>> logits, state = model(torch.zeros(2, 5, dtype=torch.long))
        >>> logits.shape
        torch.Size([2, 5, 30])
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        check_positive_int("LanguageModel", "vocab_size", config.vocab_size)
        if config.dropout == "auto":
            raise ValueError("LanguageModel: dropout='auto' is set from the planned passes "
                             "when a run starts; a model needs a number, got 'auto'")
        self.config = config
        if config.embedding == "one-hot":
            self.embedding: nn.Module = OneHot(config.vocab_size)
        else:
            self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.condition_embeddings = nn.ModuleList(
            nn.Embedding(size, config.condition_size) for size in config.condition_sizes)
        self.rnn = build_recurrent_layer(config)
        self.decoder: nn.Module = self._build_output_layer(config)
        self._init_embedding_and_decoder()
        if config.tie_weights:
            self._tie_weights()

    @staticmethod
    def _build_output_layer(config: ModelConfig) -> nn.Module:
        if config.output_layer == "adaptive":
            return nn.AdaptiveLogSoftmaxWithLoss(
                config.output_size, config.vocab_size, list(config.cutoffs()),
                div_value=config.adaptive_div_value)
        return nn.Linear(config.output_size, config.vocab_size)

    @torch.no_grad()
    def _init_embedding_and_decoder(self) -> None:
        # U(-0.1, 0.1) as in Zaremba et al. (2014) and pytorch/examples: nn.Embedding's
        # N(0, 1) gives inputs ten times larger than the recurrent layer's init expects.
        if isinstance(self.embedding, nn.Embedding):
            nn.init.uniform_(self.embedding.weight, -EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE)
        if not isinstance(self.decoder, nn.Linear):
            return  # the adaptive softmax keeps torch's initialisation
        nn.init.uniform_(self.decoder.weight, -EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE)
        nn.init.zeros_(self.decoder.bias)

    def _tie_weights(self) -> None:
        if self.config.embedding != "learned":
            raise ValueError("tie_weights needs embedding='learned'")
        if self.config.output_size != self.config.embedding_size:
            raise ValueError(
                "tie_weights needs the recurrent output size to equal embedding_size, got "
                f"output {self.config.output_size} and embedding_size "
                f"{self.config.embedding_size} (set proj_size or embedding_size to match)"
            )
        self.decoder.weight = self.embedding.weight

    def forward(
        self, tokens: Tensor, state: RecurrentState | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, RecurrentState]:
        """Logits for the next token at every step, and the state after the last step.

        ``lengths`` (batch,): the real steps of each row of a padded batch; the state
        returned is each row's at its last real step (logits past it are the decoder's
        bias and mean nothing). With the adaptive softmax the logits are the full
        log-probabilities, which a softmax or a cross-entropy reads as it reads logits.
        """
        output, state = self._features(tokens, state, lengths)
        if isinstance(self.decoder, nn.AdaptiveLogSoftmaxWithLoss):
            features = output.reshape(-1, output.shape[-1])  # (batch * time, output)
            return self.decoder.log_prob(features).view(*output.shape[:-1], -1), state
        return self.decoder(output), state

    def next_token_loss(self, tokens: Tensor, targets: Tensor,
                        state: RecurrentState | None = None) -> tuple[Tensor, RecurrentState]:
        """Mean cross-entropy of ``targets`` (batch, time) in nats per token, and the state
        after the last step: ``F.cross_entropy`` of :meth:`forward`'s logits, the same
        number. With the adaptive softmax it reads each target's own cluster only (torch's
        target-only path), which is what makes that output layer fast to train.
        """
        if not isinstance(self.decoder, nn.AdaptiveLogSoftmaxWithLoss):
            logits, state = self(tokens, state)
            return cross_entropy(logits, targets), state
        output, state = self._features(tokens, state, None)
        features = output.reshape(-1, output.shape[-1])  # (batch * time, output)
        return adaptive_target_loss(self.decoder, features, targets.reshape(-1)), state

    def _features(self, tokens: Tensor, state: RecurrentState | None,
                  lengths: Tensor | None) -> tuple[Tensor, RecurrentState]:
        """The recurrent output the output layer reads, (batch, time, output), after
        dropout, and the state."""
        embedded = F.dropout(self._embed(tokens), self.config.dropout, self.training)
        output, state = self.rnn(embedded, state, lengths=lengths)  # (batch, time, output)
        return F.dropout(output, self.config.dropout, self.training), state

    def _embed(self, tokens: Tensor) -> Tensor:
        _check_tokens(self.config, tokens)
        if not self.condition_embeddings:
            return self.embedding(tokens)
        parts = [self.embedding(tokens[..., 0])]
        for index, embedding in enumerate(self.condition_embeddings, start=1):
            parts.append(embedding(tokens[..., index]))
        return torch.cat(parts, dim=-1)  # (batch, time, input_size)


def adaptive_target_loss(adaptive: nn.AdaptiveLogSoftmaxWithLoss, features: Tensor,
                         targets: Tensor) -> Tensor:
    """Mean cross-entropy of ``targets`` (tokens,) through torch's target-only path of
    ``adaptive``, over ``features`` (tokens, in_features): in the weights' dtype, outside
    autocast, because that path writes each cluster's result into a buffer of the input's
    dtype and fails on bf16 ones (torch 2.13)."""
    features = features.to(adaptive.head.weight.dtype)
    with torch.autocast(features.device.type, enabled=False):
        return adaptive(features, targets).loss


class WithConditions(nn.Module):
    """A conditional :class:`LanguageModel` with its conditions fixed, used as a plain one.

    Every step gets the same condition ids, so sampling code that calls
    ``model(tokens, state)`` drives a conditional model unchanged.

    Shapes:
        conditions: (conditions,) int64 class ids
        tokens:     (batch, time) token ids; logits and state as the wrapped model's
    """

    def __init__(self, model: LanguageModel, conditions: Tensor) -> None:
        super().__init__()
        if conditions.dim() != 1 or conditions.numel() != len(model.config.condition_sizes):
            raise ValueError(f"WithConditions expected {len(model.config.condition_sizes)} "
                             f"condition ids, got shape {tuple(conditions.shape)}")
        for index, (value, size) in enumerate(zip(conditions.tolist(),
                                                  model.config.condition_sizes, strict=True)):
            if not 0 <= value < size:
                raise ValueError(f"condition {index} must be a class id in [0, {size}), "
                                 f"got {value}")
        self.model = model
        self.register_buffer("conditions", conditions.to(torch.long), persistent=False)

    def forward(self, tokens: Tensor, state: RecurrentState | None = None
                ) -> tuple[Tensor, RecurrentState]:
        """Logits and state of the wrapped model, with the fixed conditions at every step."""
        conditions = self.conditions.to(tokens.device).expand(*tokens.shape, -1)
        return self.model(torch.cat([tokens.unsqueeze(-1), conditions], dim=-1), state)


def _check_tokens(config: ModelConfig, tokens: Tensor) -> None:
    conditions = len(config.condition_sizes)
    expected = "(batch, time)" if not conditions else f"(batch, time, {1 + conditions})"
    wanted_dim = 3 if conditions else 2
    if tokens.dim() != wanted_dim or tokens.dtype != torch.long or (
            conditions and tokens.shape[-1] != 1 + conditions):
        raise ValueError(f"LanguageModel expected tokens as a {expected} int64 tensor, got "
                         f"shape {tuple(tokens.shape)} and dtype {tokens.dtype}")
