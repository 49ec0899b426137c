"""English→German translation of Django's interface messages, character by character.

A small demonstration task for :class:`~rnnkit.models.seq2seq.Seq2Seq` and its
Transformer baseline: the ``django_de`` catalogues (:mod:`rnnkit.data.po_catalogue`, 733
message pairs) split by message, both sides spelled as characters (so no tokenizer has
to be trained on 600 messages and no word is ever unknown on the target side). Training
is :func:`rnnkit.tasks.seq2seq.pair_training.train_on_pairs`; the epoch kept is the one with
the best validation chrF (character n-gram F-score, which moves before BLEU does on a
model this weak), and the run ends with corpus BLEU and chrF (sacrebleu) on the test
messages, greedy and with a beam.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from rnnkit.atomic import atomic_write_json
from rnnkit.data.pairs import SymbolTable
from rnnkit.data.po_catalogue import parse_po, split_pairs
from rnnkit.data.registry import load_splits
from rnnkit.metrics.sequences import corpus_bleu
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.seq2seq.pair_training import (
    PairTrainingConfig,
    build_pair_model,
    decode_sources,
    train_on_pairs,
)
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint
from rnnkit.training.example_training import start_run
from rnnkit.training.run_folder import claims_run_folder
from rnnkit.validation import Rule


@dataclass(frozen=True)
class TranslationConfig(PairTrainingConfig):
    """Data split and optimization of a translation run (the model is a
    :class:`Seq2SeqConfig`; the optimization fields are :class:`PairTrainingConfig`'s)."""

    dataset: str = "django_de"
    split_seed: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    batch_size: int = 16
    max_epochs: int = 100
    max_output: int = 360  # characters; the longest German message has 347
    output_ratio: float = 2.0  # and at most 2 characters per source character, + 10
    out_dir: str = "runs/translation"

    # Where the fields sit in a recipe (rnnkit.tasks.recipe); [train] holds the rest.
    RECIPE_TABLES: ClassVar[dict[str, frozenset[str]]] = {
        "data": frozenset({"dataset", "split_seed", "valid_fraction", "test_fraction"}),
        "task": frozenset({"teacher_forcing", "beam_width", "max_output", "init_from",
            "output_ratio"})}

    RANGES: ClassVar[dict[str, Rule]] = {"dataset": ("django_de",), "output_ratio": "> 0"}


@dataclass
class TranslationData:
    """The split message pairs and the character tables of both sides."""

    splits: dict[str, list[tuple[str, str]]]
    source: SymbolTable
    target: SymbolTable

    def pairs(self, split: str) -> list[tuple[list[int], list[int]]]:
        """Every (message, translation) pair of a split, as character ids."""
        return [(self.source.encode(english, "message"), self.target.encode(german, "message"))
                for english, german in self.splits[split]]


def load_translation_data(config: TranslationConfig,
                          text: str | None = None) -> TranslationData:
    """Read and split the catalogue (``text`` replaces the registry's copy of it)."""
    pairs = parse_po(text if text is not None else load_splits(config.dataset)["text"])
    splits = split_pairs(pairs, valid_fraction=config.valid_fraction,
                         test_fraction=config.test_fraction, seed=config.split_seed)
    # Every English character, so no held-out message is refused; German from training
    # only, as a model can only write what it was shown.
    source = SymbolTable.build(english for english, _ in pairs)
    target = SymbolTable.build(german for _, german in splits["train"])
    return TranslationData(splits, source, target)


def translate_lines(model: nn.Module, source: SymbolTable, target: SymbolTable,
                    lines: list[str], max_output: int, beam_width: int = 1,
                    output_ratio: float | None = None) -> list[str]:
    """The translation of each line (greedy with width 1, else beam search), at most
    ``max_output`` characters (and ``output_ratio`` times the line's length + 10)."""
    sources = [source.encode(line, f"line {number}")
               for number, line in enumerate(lines, start=1)]
    return ["".join(target.decode(ids))
            for ids in decode_sources(model, sources, max_output, beam_width, output_ratio)]


def evaluate_translation(model: nn.Module, data: TranslationData, split: str,
                         config: TranslationConfig, beam_width: int = 1) -> dict[str, float]:
    """Corpus BLEU and chrF of a split's translations."""
    english = [pair[0] for pair in data.splits[split]]
    references = [pair[1] for pair in data.splits[split]]
    hypotheses = translate_lines(model, data.source, data.target, english, config.max_output,
                                 beam_width, config.output_ratio)
    return corpus_bleu(hypotheses, references)


@claims_run_folder
def train_translation(config: TranslationConfig, model_config: Seq2SeqConfig,
                      text: str | None = None) -> dict[str, Any]:
    """Train, keep the best epoch by validation chrF, score it on the test messages;
    returns the results (also written to ``out_dir/results.json``)."""
    device = start_run(config)
    data = load_translation_data(config, text)
    longest = max(max(len(english), len(german) + 1)
                  for split in data.splits.values() for english, german in split)
    model = build_pair_model(model_config, data.source, data.target, device, longest, config)
    out_dir = Path(config.out_dir)
    trained = train_on_pairs(
        model, data.pairs("train"), config,
        validate=lambda m: evaluate_translation(m, data, "valid", config),
        error_of=lambda figures: -figures["chrf"],
        figure_names=("bleu", "chrf"), **_saved_with(model, data, config))
    model.load_state_dict(load_checkpoint(out_dir, tag="best").model_state)
    shown = data.splits["test"][:8]
    examples = translate_lines(model, data.source, data.target, [e for e, _ in shown],
                               config.max_output, config.beam_width, config.output_ratio)
    results = {"parameters": sum(p.numel() for p in model.parameters()),
               "trained_s": round(trained.trained_s, 1), "history": trained.history,
               "split_pairs": {name: len(part) for name, part in data.splits.items()},
               "test_greedy": evaluate_translation(model, data, "test", config),
               "test_beam": evaluate_translation(model, data, "test", config,
                                                 beam_width=config.beam_width),
               "examples": [{"english": english, "reference": german, "output": output}
                            for (english, german), output in zip(shown, examples, strict=True)]}
    atomic_write_json(out_dir / "results.json", results)
    return results


def _saved_with(model: nn.Module, data: TranslationData,
                config: TranslationConfig) -> dict[str, Any]:
    """What a checkpoint holds besides the weights: the configurations, the tables."""
    return {"saved_config": {"model": asdict(model.config), "translation": asdict(config)},
            "saved_tables": {"source": data.source.to_dict(), "target": data.target.to_dict()}}


def translation_tables(saved: Checkpoint) -> tuple[SymbolTable, SymbolTable]:
    """The source and target character tables of a translation checkpoint (its model:
    :func:`~rnnkit.tasks.seq2seq.pair_training.load_pair_model`)."""
    return (SymbolTable.from_dict(saved.vocab["source"]),
            SymbolTable.from_dict(saved.vocab["target"]))
