"""Grapheme-to-phoneme training and evaluation for :class:`~rnnkit.models.seq2seq.Seq2Seq`
and its Transformer baseline (``Seq2SeqConfig(architecture="transformer")``).

The CMU dictionary is split by word (:func:`rnnkit.data.cmudict.split_words`); every
pronunciation of a training word is a training pair, and a held-out word is scored against
all of its pronunciations (:mod:`rnnkit.metrics.sequences`). Each epoch visits the
training pairs in length buckets (:mod:`rnnkit.tasks.seq2seq.pair_training`), then
greedy-decodes ``eval_words`` validation words for word and phoneme error rates; the best
epoch by validation word error rate is kept (checkpoint tag ``best``), and the run ends
with the test split decoded greedily and with a beam.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnkit.atomic import atomic_write_json
from rnnkit.data.cmudict import Pronunciations, parse_cmudict, split_words
from rnnkit.data.pairs import SymbolTable
from rnnkit.data.registry import load_splits
from rnnkit.decode import greedy_decode
from rnnkit.metrics.sequences import error_rates
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.seq2seq.pair_training import (
    PairTrainingConfig,
    build_pair_model,
    decode_sources,
    load_pair_model,
    train_on_pairs,
)
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint
from rnnkit.training.example_training import start_run
from rnnkit.training.run_folder import claims_run_folder
from rnnkit.validation import Rule


@dataclass(frozen=True)
class G2PConfig(PairTrainingConfig):
    """Data split, validation and optimization of a G2P run (the model is a
    :class:`Seq2SeqConfig`; the optimization fields are :class:`PairTrainingConfig`'s)."""

    split_seed: int = 0
    strip_stress: bool = False  # the 39-phoneme set of most published G2P results
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    eval_words: int = 2000
    out_dir: str = "runs/g2p"

    # Where the fields sit in a recipe (rnnkit.tasks.recipe); [train] holds the rest.
    RECIPE_TABLES: ClassVar[dict[str, frozenset[str]]] = {
        "data": frozenset({"split_seed", "strip_stress", "valid_fraction", "test_fraction"}),
        "task": frozenset({"teacher_forcing", "beam_width", "max_output", "init_from",
                           "eval_words"})}

    RANGES: ClassVar[dict[str, Rule]] = {"eval_words": ">= 1"}


@dataclass
class G2PData:
    """The split dictionary and the symbol tables of both sides."""

    splits: dict[str, Pronunciations]
    letters: SymbolTable
    phonemes: SymbolTable

    def pairs(self, split: str) -> list[tuple[list[int], list[int]]]:
        """Every (word, pronunciation) pair of a split, as ids."""
        return [(self.letters.encode(word, "word"), self.phonemes.encode(pron, "phonemes"))
                for word, prons in self.splits[split].items() for pron in prons]


def load_g2p_data(config: G2PConfig, text: str | None = None) -> G2PData:
    """Read and split the CMU dictionary (``text`` replaces the registry's copy)."""
    entries = parse_cmudict(text if text is not None else load_splits("cmudict")["text"])
    if config.strip_stress:
        entries = strip_stress(entries)
    splits = split_words(entries, valid_fraction=config.valid_fraction,
                         test_fraction=config.test_fraction, seed=config.split_seed)
    train = splits["train"]
    letters = SymbolTable.build(entries)  # every letter, so no held-out word is unknown
    phonemes = SymbolTable.build(pron for prons in train.values() for pron in prons)
    return G2PData(splits, letters, phonemes)


def strip_stress(entries: Pronunciations) -> Pronunciations:
    """The pronunciations without their stress digits (``AH0`` -> ``AH``), duplicates that
    this makes (``AH0``/``AH1`` variants) kept once."""
    return {word: _stressless_variants(prons) for word, prons in entries.items()}


def _stressless_variants(pronunciations: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """A word's pronunciations without their stress digits, each kept once, in order."""
    return list(dict.fromkeys(map(_stressless, pronunciations)))


def _stressless(pronunciation: Sequence[str]) -> tuple[str, ...]:
    """One pronunciation without its stress digits: ``("AH0", "N")`` -> ``("AH", "N")``."""
    return tuple(phoneme.rstrip("012") for phoneme in pronunciation)


@claims_run_folder
def train_g2p(config: G2PConfig, model_config: Seq2SeqConfig,
              text: str | None = None) -> dict[str, Any]:
    """Train, keep the best epoch, evaluate it on the test split; returns the results
    (also written to ``out_dir/results.json``)."""
    device = start_run(config)
    data = load_g2p_data(config, text)
    longest = max(max(len(word), *(len(pron) + 1 for pron in prons))
                  for split in data.splits.values() for word, prons in split.items())
    model = build_pair_model(model_config, data.letters, data.phonemes, device, longest, config)
    out_dir = Path(config.out_dir)
    trained = train_on_pairs(
        model, data.pairs("train"), config,
        validate=lambda m: evaluate_words(m, data, "valid", config, limit=config.eval_words),
        error_of=lambda figures: figures["word_error_rate"],
        figure_names=("word_error_rate", "phoneme_error_rate"), **_saved_with(model, data, config))
    model.load_state_dict(load_checkpoint(out_dir, tag="best").model_state)
    test_words = list(data.splits["test"])
    greedy = decode_words(model, data, test_words, config)  # once, for both greedy figures
    results = {"parameters": sum(p.numel() for p in model.parameters()),
               "trained_s": round(trained.trained_s, 1), "history": trained.history,
               "split_words": {name: len(part) for name, part in data.splits.items()},
               "test_greedy": error_rates(greedy, list(data.splits["test"].values())),
               "test_beam": evaluate_words(model, data, "test", config,
                                           beam_width=config.beam_width),
               "test_by_length": error_by_length(data, "test", greedy)}
    atomic_write_json(out_dir / "results.json", results)
    return results


def pronounce(model: Seq2Seq, letters: SymbolTable, phonemes: SymbolTable, words: list[str],
              max_output: int, beam_width: int = 1) -> list[list[str]]:
    """Pronunciations of ``words`` (greedy with width 1, else beam search)."""
    sources = [letters.encode(word, "word") for word in words]
    return [phonemes.decode(ids)
            for ids in decode_sources(model, sources, max_output, beam_width)]


def decode_words(model: Seq2Seq, data: G2PData, words: list[str], config: G2PConfig,
                 beam_width: int = 1) -> list[list[str]]:
    """:func:`pronounce` with a run's symbol tables and output bound."""
    return pronounce(model, data.letters, data.phonemes, words, config.max_output, beam_width)


def evaluate_words(model: Seq2Seq, data: G2PData, split: str, config: G2PConfig,
                   limit: int | None = None, beam_width: int = 1, *,
                   strip_stress: bool = False) -> dict[str, float]:
    """Word and phoneme error rates on a split, or on ``limit`` of its words taken at
    even steps through the (alphabetical) word list.

    With ``strip_stress`` both the outputs and the references lose their stress digits
    before they are compared: a model trained with stress scored on the 39 phonemes of
    most published results (a model trained without stress scores the same either way).
    """
    words = list(data.splits[split])
    if limit is not None and limit < len(words):
        words = words[::len(words) // limit][:limit]
    hypotheses = decode_words(model, data, words, config, beam_width)
    references = [data.splits[split][w] for w in words]
    if strip_stress:
        hypotheses = [_stressless(hypothesis) for hypothesis in hypotheses]
        references = [_stressless_variants(prons) for prons in references]
    return error_rates(hypotheses, references)


def error_by_length(data: G2PData, split: str,
                    hypotheses: list[list[str]]) -> list[dict[str, float]]:
    """Word and phoneme error rates per word length (letters), for the bottleneck, of
    ``hypotheses``: one output per word of the split, in its order."""
    words = list(data.splits[split])
    by_length: dict[int, list[int]] = {}
    for index, word in enumerate(words):
        by_length.setdefault(len(word), []).append(index)
    rows = []
    for length in sorted(by_length):
        chosen = by_length[length]
        rates = error_rates([hypotheses[i] for i in chosen],
                            [data.splits[split][words[i]] for i in chosen])
        rows.append({"length": length, "words": len(chosen), **rates})
    return rows


def _saved_with(model: Seq2Seq, data: G2PData,
                config: G2PConfig) -> dict[str, Any]:
    """What a checkpoint holds besides the weights: the configurations, the tables."""
    return {"saved_config": {"model": asdict(model.config), "g2p": asdict(config)},
            "saved_tables": {"letters": data.letters.to_dict(),
                             "phonemes": data.phonemes.to_dict()}}


def load_g2p_model(checkpoint: str | Path, tag: str = "best"
                   ) -> tuple[Seq2Seq, SymbolTable, SymbolTable]:
    """The model and the letter and phoneme tables of a G2P checkpoint (no pickle; see
    :func:`~rnnkit.tasks.seq2seq.pair_training.load_pair_model`)."""
    model, saved = load_pair_model(checkpoint, tag)
    return (model, *g2p_tables(saved))


def g2p_tables(saved: Checkpoint) -> tuple[SymbolTable, SymbolTable]:
    """The letter and phoneme tables of a G2P checkpoint."""
    return (SymbolTable.from_dict(saved.vocab["letters"]),
            SymbolTable.from_dict(saved.vocab["phonemes"]))


@torch.no_grad()
def attention_weights(model: Seq2Seq, letters: SymbolTable, phonemes: SymbolTable,
                      word: str, max_output: int = 32) -> tuple[list[str], torch.Tensor]:
    """The greedy pronunciation of ``word`` and the attention weights that produced it,
    (output steps including the end token, letters)."""
    if model.config.architecture == "transformer":
        raise ValueError("a Transformer has one attention map per head and layer: there is "
                         "no single alignment to show")
    if not model.has_attention:
        raise ValueError(f"this model has attention={model.config.attention!r}: there are "
                         "no attention weights to show")
    ids = letters.encode(word, "word")
    source, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
    output = greedy_decode(model, source, lengths, max_output)[0]
    target = torch.tensor([[model.config.bos_id, *output]])
    weights = model(source, lengths, target).attention[0]  # (output + 1, letters)
    return phonemes.decode(output), weights


def plot_attention(model: Seq2Seq, letters: SymbolTable, phonemes: SymbolTable,
                   words: list[str], path: str | Path) -> Path:
    """One heat map per word: output phonemes (rows) against input letters (columns)."""
    from rnnkit.plotting import pyplot, save_figure

    plt = pyplot()
    figure, axes = plt.subplots(1, len(words), figsize=(3.2 * len(words), 3.6), squeeze=False)
    for axis, word in zip(axes[0], words, strict=True):
        output, weights = attention_weights(model, letters, phonemes, word)
        axis.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axis.set_xticks(range(len(word)), list(word))
        axis.set_yticks(range(len(output) + 1), [*output, "</s>"])
        axis.set_title(word)
    figure.suptitle(f"attention ({model.config.attention}): phonemes against letters")
    figure.tight_layout()
    return save_figure(figure, path)
