"""Aligned many-to-many: train and evaluate a :class:`~rnnkit.models.tagger.SequenceTagger`
on tagged sentences (parts of speech, named entities).

The sentences (a registered data set, a user's CoNLL file of ``token TAG`` lines, or
sentences handed in) are shuffled with ``split_seed`` and cut into test, validation and
training parts. The word, character and tag tables and the most-frequent-tag baseline
(:mod:`rnnkit.tasks.tag.baseline`) come from the training part alone: words seen
fewer than ``min_count`` times there share ``<unk>``, which teaches the model what to do
with the words it has never seen, and the character table lets it read their spelling
(``TaggerConfig(char_embedding_size=...)``). Each epoch visits the training sentences in
length buckets on :func:`~rnnkit.training.example_training.train_on_examples` and is judged
on the validation part by token accuracy, or by entity F1 when the tags are BIO entity
tags; the best epoch is kept and scored on the test part next to the baseline.

A tag that only the held-out parts of the same corpus use (the OANC has a few tags seen
once) is one the model can never predict: it is scored as a miss and counted in the
results (``unseen_test_tags``). A user's evaluation file, though, must use the training
tags: another tag there is a ``ValueError`` naming it and its line, since it most likely
means a different tag set.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.atomic import atomic_write_json
from rnnkit.data.registry import load_splits
from rnnkit.data.tag_examples import (
    SPLIT_NAMES,
    TaggingTables,
    read_conll_file,
    split_sentences,
    tags_of,
    tokens_of,
)
from rnnkit.data.tagged import Sentence, pattern_sentences, wnut16_sentences
from rnnkit.data.token_batches import (
    Example,
    SpelledExample,
    TokenBatch,
    bucketed_examples,
    evaluation_batches,
)
from rnnkit.metrics.labels import is_bio, tagging_figures
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.tasks.tag.baseline import MostFrequentTag, known_unknown_accuracy
from rnnkit.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
)
from rnnkit.training.example_training import (
    ExampleTask,
    ExampleTrainingConfig,
    TrainedExamples,
    start_run,
    train_on_examples,
)
from rnnkit.training.run_folder import claims_run_folder
from rnnkit.validation import Rule

log = logging.getLogger(__name__)

DATASETS = ("pos_oanc", "pos_wsj", "wnut16")


@dataclass(frozen=True)
class TaggingConfig(ExampleTrainingConfig):
    """Data, split and optimization of a tagging run (the model is a :class:`TaggerConfig`).
    Name a ``dataset`` or a CoNLL ``file`` (``token TAG`` lines), or neither and hand the
    sentences to :func:`train_tagging`."""

    dataset: str | None = None
    file: str | None = None
    split_seed: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    min_count: int = 2  # rarer training words share <unk>, so <unk> is trained too
    lowercase: bool = False  # of the word table; the characters keep their case
    max_word_chars: int = 20  # longer words keep their first and last halves of this
    batch_size: int = 32
    lr: float = 2e-3
    # Halve the rate when validation stalls. On small BIO data (wnut16) the entity F1 stays
    # 0 for the first epochs, which reads as a stall and cuts the rate before anything is
    # learned: use 1.0 there.
    lr_decay: float = 0.5
    max_epochs: int = 20
    out_dir: str = "runs/tag"

    # Where the fields sit in a recipe (rnnkit.tasks.recipe); [train] holds the rest.
    RECIPE_TABLES: ClassVar[dict[str, frozenset[str]]] = {
        "data": frozenset({"dataset", "file", "split_seed", "valid_fraction", "test_fraction",
            "min_count", "lowercase", "max_word_chars"}),
        "task": frozenset()}

    RANGES: ClassVar[dict[str, Rule]] = {
        "dataset": DATASETS, "min_count": ">= 1", "max_word_chars": ">= 2"}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset is not None and self.file is not None:
            raise ValueError(f"TaggingConfig expected a dataset or a file, not both: got "
                             f"dataset {self.dataset!r} and file {self.file!r}")


# --- data --------------------------------------------------------------------------------
def read_tagged_sentences(config: TaggingConfig) -> list[Sentence]:
    """The sentences the configuration names: its CoNLL file, else its data set."""
    if config.file is not None:
        return read_conll_file(config.file)[0]
    if config.dataset is None:
        raise ValueError("TaggingConfig names no data: give dataset (one of "
                         f"{DATASETS}) or file, or hand the sentences in")
    text = load_splits(config.dataset)["text"]
    return wnut16_sentences(text) if config.dataset == "wnut16" else pattern_sentences(
        text, source=f"data set {config.dataset}")


@dataclass
class TaggingData:
    """The split sentences, the training tables and the baseline fitted on training."""

    splits: dict[str, list[Sentence]]
    tables: TaggingTables
    baseline: MostFrequentTag

    def training_examples(self, spelled: bool) -> list[Example | SpelledExample]:
        """The training sentences as ``(word ids, tag ids[, character ids])``."""
        return [self.tables.example(tokens, self.tables.tags.encode(tags, "training part"),
                                    spelled)
                for tokens, tags in zip(tokens_of(self.splits["train"]),
                                        tags_of(self.splits["train"]), strict=True)]

    def inputs(self, split: str, spelled: bool) -> list[Example | SpelledExample]:
        """A split's sentences as examples to tag: their tags stay strings (a held-out tag
        need not be in the table), the examples' tag ids are placeholders."""
        return [self.tables.example(tokens, [0] * len(tokens), spelled)
                for tokens in tokens_of(self.splits[split])]


def load_tagging_data(config: TaggingConfig,
                      sentences: Sequence[Sentence] | None = None) -> TaggingData:
    """Split the sentences (``sentences``, or those the configuration names) and build the
    tables and the baseline from the training part."""
    if sentences is not None and (config.dataset is not None or config.file is not None):
        raise ValueError("train_tagging got sentences and a config naming a dataset or file: "
                         "give one source of sentences")
    sentences = list(sentences) if sentences is not None else read_tagged_sentences(config)
    splits = split_sentences(sentences, config.valid_fraction, config.test_fraction,
                             config.split_seed)
    tables = TaggingTables.build(splits["train"], config.min_count, config.lowercase,
                                 config.max_word_chars)
    baseline = MostFrequentTag.fit([(tables.normal(token), tag) for token, tag in sentence]
                                   for sentence in splits["train"])
    return TaggingData(splits, tables, baseline)


# --- training ----------------------------------------------------------------------------
@claims_run_folder
def train_tagging(config: TaggingConfig, model_config: TaggerConfig,
                  sentences: Sequence[Sentence] | None = None) -> dict[str, Any]:
    """Train, keep the best epoch, score it and the most-frequent-tag baseline on the test
    part; returns the results (also written to ``out_dir/results.json``). ``model_config``'s
    table sizes (``vocab_size``, ``num_tags``, ``char_vocab_size``) are filled in."""
    device = start_run(config)
    data = load_tagging_data(config, sentences)
    tables = data.tables
    model_config = dataclasses.replace(
        model_config, vocab_size=len(tables.words), num_tags=len(tables.tags),
        char_vocab_size=len(tables.chars) if model_config.uses_chars else 0)
    model = SequenceTagger(model_config).to(device)
    spelled, entities = model_config.uses_chars, is_bio(tables.tags.names)
    train_examples = data.training_examples(spelled)
    valid, valid_examples = data.splits["valid"], data.inputs("valid", spelled)
    log.info("tagging: %s sentences (train, valid, test), %d words, %d characters, %d tags",
             [len(data.splits[name]) for name in SPLIT_NAMES], len(tables.words),
             len(tables.chars), len(tables.tags))
    out_dir = Path(config.out_dir)

    def loss_of(model: nn.Module, batch: TokenBatch) -> torch.Tensor:
        return model.loss(model(batch.tokens, batch.lengths, batch.chars), batch.targets,
                          batch.lengths)

    def validate(model: nn.Module) -> dict[str, float]:
        predicted = [tables.tags.decode(ids) for ids in predict_tag_ids(model, valid_examples)]
        return tagging_figures(tags_of(valid), predicted, entities)

    selected_by = "entity_f1" if entities else "token_accuracy"
    trained = train_on_examples(model, config, ExampleTask(
        loss_of=loss_of, validate=validate,
        batches=lambda epoch: bucketed_examples(train_examples, config.batch_size,
                                                seed=config.seed + epoch),
        error_of=lambda figures: 1.0 - figures[selected_by],
        count_of=lambda batch: int(batch.lengths.sum()),  # the loss is a mean per token
        figure_names=_tagging_figure_names(entities), **_saved_with(model, data, config)))
    model.load_state_dict(load_checkpoint(out_dir, tag="best").model_state)
    results = _results(SavedTagger(model, tables, data.baseline, config), data, trained,
                       selected_by)
    atomic_write_json(out_dir / "results.json", results)
    return results


def _results(saved: SavedTagger, data: TaggingData, trained: TrainedExamples,
             selected_by: str) -> dict[str, Any]:
    """What a run writes to ``results.json``: its data, model, training and test figures."""
    config, tables, test = saved.config, saved.tables, data.splits["test"]
    return {
        "data": config.file or config.dataset or "sentences given", "seed": config.seed,
        "split_seed": config.split_seed, "model": asdict(saved.model.config),
        "parameters": sum(p.numel() for p in saved.model.parameters()),
        "trained_s": round(trained.trained_s, 1),
        "split_sentences": {name: len(data.splits[name]) for name in SPLIT_NAMES},
        "split_tokens": {name: sum(map(len, data.splits[name])) for name in SPLIT_NAMES},
        "words": len(tables.words), "chars": len(tables.chars), "tags": tables.tags.names,
        "entities": selected_by == "entity_f1", "selected_by": selected_by,
        "best_epoch": max(trained.history, key=lambda row: row[selected_by])["epoch"],
        "history": trained.history,
        "test": saved.evaluate(test, source="test part", strict=False),
        "unseen_test_tags": dict(Counter(tag for tags in tags_of(test) for tag in tags
                                         if tag not in tables.tags.ids))}


@torch.no_grad()
def predict_tag_ids(model: SequenceTagger, examples: Sequence[Example | SpelledExample],
                    batch_size: int = 256) -> list[list[int]]:
    """The tag ids of each example's tokens, in the order of ``examples``, computed in
    length-sorted batches (argmax, or Viterbi with a CRF)."""
    model.eval()
    device = next(model.parameters()).device
    tags: list[list[int]] = [[] for _ in examples]
    for indices, batch in evaluation_batches(examples, batch_size):
        batch = batch.to(device)
        for index, row in zip(indices, model.predict(batch.tokens, batch.lengths, batch.chars),
                              strict=True):
            tags[index] = row
    return tags


def _tagging_figure_names(entities: bool) -> tuple[str, ...]:
    """The keys of :func:`~rnnkit.metrics.labels.tagging_figures`."""
    return (("token_accuracy", "entity_precision", "entity_recall", "entity_f1") if entities
            else ("token_accuracy",))


def _saved_with(model: SequenceTagger, data: TaggingData,
                config: TaggingConfig) -> dict[str, Any]:
    """What a checkpoint holds besides the weights: the configurations, the tables."""
    return {"saved_config": {"model": asdict(model.config), "tag": asdict(config)},
            "saved_tables": {**data.tables.to_vocab(), "baseline": data.baseline.to_dict()}}


# --- a trained tagger --------------------------------------------------------------------
@dataclass
class SavedTagger:
    """A trained tagger with its tables, its run's baseline and settings."""

    model: SequenceTagger
    tables: TaggingTables
    baseline: MostFrequentTag
    config: TaggingConfig

    @classmethod
    def load(cls, checkpoint: str | Path, tag: str = "best") -> SavedTagger:
        """Read a tagging run's checkpoint (safetensors and JSON, no pickle): the model, its
        config and tables only, the config checked against the tensors before the model is
        built (:func:`~rnnkit.training.checkpoint.load_model`)."""
        model, saved = load_model(checkpoint, _tagger_of, tag=tag)
        config = TaggingConfig.from_saved(saved.config["tag"])
        tables = TaggingTables.from_vocab(saved.vocab, config.lowercase, config.max_word_chars)
        return cls(model, tables, MostFrequentTag.from_dict(saved.vocab["baseline"]), config)

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The tags of each sentence's tokens; a sentence without tokens is a
        ``ValueError`` naming it (counted from 1)."""
        for number, tokens in enumerate(sentences, 1):
            if not tokens:
                raise ValueError(f"sentence {number} has no tokens to tag")
        spelled = self.model.config.uses_chars
        examples = [self.tables.example(tokens, [0] * len(tokens), spelled)
                    for tokens in sentences]
        return [self.tables.tags.decode(ids) for ids in predict_tag_ids(self.model, examples)]

    def evaluate(self, sentences: Sequence[Sentence], source: str, strict: bool = True,
                 lines: Sequence[Sequence[int]] | None = None) -> dict[str, Any]:
        """Test figures of the tagger (``rnn``) and of the baseline on tagged sentences: token
        accuracy (and entity precision, recall and F1 for BIO tags), and accuracy on words
        seen and not seen in training. With ``strict``, a tag not seen in training is a
        ``ValueError`` naming it and its sentence (and line, given the line of each token)."""
        gold = tags_of(sentences)
        if strict:
            self._check_tags(gold, source, lines)
        words = [[self.tables.normal(token) for token in tokens]
                 for tokens in tokens_of(sentences)]
        known = [[self.baseline.knows(word) for word in sentence] for sentence in words]
        entities = is_bio(self.tables.tags.names)
        figures = {}
        for name, predicted in (("rnn", self.tag(tokens_of(sentences))),
                                ("baseline", [self.baseline.predict(s) for s in words])):
            figures[name] = {**tagging_figures(gold, predicted, entities),
                             **known_unknown_accuracy(gold, predicted, known)}
        return {"sentences": len(sentences), "tokens": sum(map(len, sentences)), **figures}

    def _check_tags(self, gold: Sequence[Sequence[str]], source: str,
                    lines: Sequence[Sequence[int]] | None) -> None:
        for number, tags in enumerate(gold, 1):
            unknown = [i for i, tag in enumerate(tags) if tag not in self.tables.tags.ids]
            if unknown:
                where = (f"{source} sentence {number}" if lines is None else
                         f"{source} line {lines[number - 1][unknown[0]]} (sentence {number})")
                self.tables.tags.encode(tags, where)  # raises, naming the tag


def _tagger_of(config: dict[str, Any]) -> SequenceTagger:
    """The tagger a checkpoint's config describes (refusing another task's run)."""
    if "tag" not in config:
        raise CheckpointError(f"this is not a tagging checkpoint (its config has "
                              f"{sorted(config)})")
    return SequenceTagger(TaggerConfig(**config["model"]))


def tag_sentences(checkpoint_dir: str | Path, sentences: Sequence[Sequence[str]],
                  tag: str = "best") -> list[list[str]]:
    """The tags a saved tagger gives each sentence's tokens."""
    return SavedTagger.load(checkpoint_dir, tag).tag(sentences)


def tag_lines(checkpoint_dir: str | Path, lines: Sequence[str],
              tag: str = "best") -> list[list[tuple[str, str]]]:
    """Tag raw lines, one sentence each, split into tokens at whitespace; an empty line is a
    ``ValueError`` naming it (counted from 1)."""
    sentences = []
    for number, line in enumerate(lines, 1):
        tokens = line.split()
        if not tokens:
            raise ValueError(f"line {number} is empty: there is nothing to tag")
        sentences.append(tokens)
    tags = tag_sentences(checkpoint_dir, sentences, tag)
    return [list(zip(tokens, row, strict=True)) for tokens, row in zip(sentences, tags,
                                                                       strict=True)]


def evaluate_tagging_checkpoint(checkpoint_dir: str | Path, file: str | Path | None = None,
                                tag: str = "best") -> dict[str, Any]:
    """Figures (see :meth:`SavedTagger.evaluate`) of a saved tagger on its run's test part,
    split again as in training, or on a CoNLL ``file``, whose tags must all have been seen in
    training (else a ``ValueError`` naming the tag and its line)."""
    saved = SavedTagger.load(checkpoint_dir, tag)
    if file is not None:
        sentences, lines, source = read_conll_file(file)
        return saved.evaluate(sentences, source, strict=True, lines=lines)
    if saved.config.dataset is None and saved.config.file is None:
        raise ValueError(f"the run in {checkpoint_dir} was trained on sentences handed in, so "
                         "its test part cannot be read again: give a CoNLL file to evaluate")
    config = saved.config
    test = split_sentences(read_tagged_sentences(config), config.valid_fraction,
                           config.test_fraction, config.split_seed)["test"]
    return saved.evaluate(test, source="test part", strict=False)
