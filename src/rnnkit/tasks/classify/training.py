"""Many-to-one: train and evaluate a :class:`~rnnkit.models.classifier.SequenceClassifier`
on labelled texts (Rotten Tomatoes snippets, or any CSV with a text and a label column).

The texts are split by text (:func:`rnnkit.data.splits.split_pairs`, seeded; a snippet
posted twice stays in one part), split into lowercased words
(:func:`~rnnkit.data.token_batches.word_tokens`), and the word table is built from the
training part alone (words seen fewer than ``min_count`` times share ``<unk>``, which
teaches the model what to do with the unknown words it will meet). Each epoch visits the
training texts in length buckets on :func:`~rnnkit.training.example_training.train_on_examples`;
the epoch with the best validation accuracy is kept. With ``pretrain_epochs`` the encoder
is first trained as a language model on the training texts
(:mod:`rnnkit.tasks.classify.encoder_pretraining`). The run ends on the test part with
accuracy, macro-F1 and a confusion matrix, next to a TF-IDF + logistic-regression baseline
(scikit-learn) fitted on the same training texts in the same run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.atomic import atomic_write_json
from rnnkit.data.labelled_text import read_labelled_csv, rotten_tomatoes_pairs
from rnnkit.data.registry import load_splits
from rnnkit.data.splits import split_pairs
from rnnkit.data.tag_examples import spelling
from rnnkit.data.token_batches import (
    PAD_ID,
    UNKNOWN_ID,
    Example,
    LabelTable,
    SpelledExample,
    TokenBatch,
    TokenTable,
    bucketed_examples,
    evaluation_batches,
    word_tokens,
)
from rnnkit.metrics.labels import classification_figures, confusion_counts
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.tasks.classify.adversarial import adversarial_classification_loss
from rnnkit.tasks.classify.distillation import mean_probabilities, mixed_targets
from rnnkit.tasks.classify.encoder_pretraining import pretrain_encoder
from rnnkit.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
)
from rnnkit.training.example_training import (
    ExampleTask,
    ExampleTrainingConfig,
    start_run,
    train_on_examples,
)
from rnnkit.training.run_folder import claims_run_folder
from rnnkit.validation import Rule

DATASETS = ("rotten_tomatoes",)


@dataclass(frozen=True)
class ClassificationConfig(ExampleTrainingConfig):
    """Data, split and optimization of a classification run (the model is a
    :class:`ClassifierConfig`). Give ``csv`` (with ``text_column`` and ``label_column``)
    for your own data, else ``dataset`` is read."""

    dataset: str = "rotten_tomatoes"
    csv: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    split_seed: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    min_count: int = 2  # rarer training words share <unk>
    max_words: int | None = None  # keep each text's first N words (None: all)
    pretrain_epochs: int = 0  # language-model epochs on the training texts first
    max_word_chars: int = 20  # spelled words keep their first and last halves of this
    word_dropout: float = 0.0  # chance that a training word is read as <unk> (its spelling kept)
    adversarial_epsilon: float = 0.0  # > 0: adversarial training of this norm (adversarial.py)
    teachers: str | None = None  # run folders, comma-separated: distil their mean answers
    distill_weight: float = 0.5  # the teachers' share of each training target (distillation.py)
    batch_size: int = 32
    lr: float = 2e-3
    lr_decay: float = 0.5
    max_epochs: int = 10
    out_dir: str = "runs/classify"

    # Where the fields sit in a recipe (rnnkit.tasks.recipe); [train] holds the rest.
    RECIPE_TABLES: ClassVar[dict[str, frozenset[str]]] = {
        "data": frozenset({"dataset", "csv", "text_column", "label_column", "split_seed",
            "valid_fraction", "test_fraction", "min_count", "max_words", "max_word_chars"}),
        "task": frozenset({"pretrain_epochs", "word_dropout", "adversarial_epsilon", "teachers",
            "distill_weight"})}

    RANGES: ClassVar[dict[str, Rule]] = {
        "min_count": ">= 1", "max_words": ">= 1", "pretrain_epochs": ">= 0",
        "max_word_chars": ">= 2", "word_dropout": "[0, 1)", "adversarial_epsilon": ">= 0",
        "distill_weight": "[0, 1]"}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.csv is None and self.dataset not in DATASETS:
            raise ValueError(f"ClassificationConfig: dataset must be one of {DATASETS} (or "
                             f"give a csv path), got {self.dataset!r}")


@dataclass
class ClassificationData:
    """The split (text, label) pairs and the tables built from the training part."""

    splits: dict[str, list[tuple[str, str]]]
    words: TokenTable
    labels: LabelTable
    chars: TokenTable

    def examples(self, split: str, config: ClassificationConfig,
                 spelled: bool = False) -> list[Example | SpelledExample]:
        """``(word ids, label id)`` of every text of a split, with each word's character
        ids when ``spelled``."""
        return encode_texts(self.splits[split], self.words, self.labels, config,
                            source=f"{split} part", chars=self.chars if spelled else None)


def read_labelled_texts(config: ClassificationConfig) -> list[tuple[str, str]]:
    """The (text, label) pairs the configuration names: its CSV, else its data set."""
    if config.csv is not None:
        from rnnkit.data.text import read_utf8

        path = Path(config.csv)
        return read_labelled_csv(read_utf8(path, "classification csv"), config.text_column,
                                 config.label_column, source=f"CSV {str(path)!r}")
    return rotten_tomatoes_pairs(load_splits(config.dataset)["text"])


def load_classification_data(config: ClassificationConfig,
                             pairs: Sequence[tuple[str, str]] | None = None
                             ) -> ClassificationData:
    """Split the pairs (``pairs``, or those the configuration names) and build the word and
    label tables from the training part."""
    pairs = list(pairs) if pairs is not None else read_labelled_texts(config)
    splits = split_pairs(pairs, valid_fraction=config.valid_fraction,
                         test_fraction=config.test_fraction, seed=config.split_seed)
    train = splits["train"]
    words = TokenTable.build((word_tokens(text) for text, _ in train),
                             min_count=config.min_count)
    labels = LabelTable.build(label for _, label in train)
    chars = TokenTable.build(spelling(token, config.max_word_chars)
                             for text, _ in train for token in word_tokens(text))
    return ClassificationData(splits, words, labels, chars)


def encode_texts(pairs: Sequence[tuple[str, str]], words: TokenTable, labels: LabelTable,
                 config: ClassificationConfig, source: str,
                 chars: TokenTable | None = None) -> list[Example | SpelledExample]:
    """``(word ids, label id)`` examples, with each word's character ids when ``chars`` is
    given; a text without a word or a label not in ``labels`` is a ``ValueError`` naming its
    row of ``source`` (counted from 1)."""
    return [_example(text, labels.encode([label], f"{source} row {row}")[0], words, config,
                     f"{source} row {row}", chars)
            for row, (text, label) in enumerate(pairs, 1)]


def _example(text: str, label: int, words: TokenTable, config: ClassificationConfig,
             where: str, chars: TokenTable | None) -> Example | SpelledExample:
    tokens = word_tokens(text)[:config.max_words]
    if not tokens:
        raise ValueError(f"{where}: the text {text!r} has no words")
    if chars is None:
        return words.encode(tokens), label
    return (words.encode(tokens), label,
            [chars.encode(spelling(token, config.max_word_chars)) for token in tokens])


@claims_run_folder
def train_classifier(config: ClassificationConfig, model_config: ClassifierConfig,
                     pairs: Sequence[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Train, keep the best epoch, evaluate it and the TF-IDF baseline on the test part;
    returns the results (also written to ``out_dir/results.json``, with the confusion
    matrix drawn to ``out_dir/confusion.png``)."""
    device = start_run(config)
    data = load_classification_data(config, pairs)
    model_config = dataclasses.replace(
        model_config, vocab_size=len(data.words), num_classes=len(data.labels),
        char_vocab_size=len(data.chars) if model_config.uses_chars else 0)
    model = SequenceClassifier(model_config).to(device)
    spelled = model_config.uses_chars
    train_examples = data.examples("train", config, spelled)
    valid_examples = data.examples("valid", config, spelled)
    out_dir = Path(config.out_dir)
    soft_targets = _teacher_targets(config, data, train_examples)
    batch_examples = train_examples
    if soft_targets is not None:  # a batch's targets then name its rows' soft targets
        soft_targets = soft_targets.to(device)
        batch_examples = [(example[0], index, *example[2:])
                          for index, example in enumerate(train_examples)]
    pretraining = []
    if config.pretrain_epochs:
        pretraining = pretrain_encoder(model.encoder, train_examples, valid_examples, config,
                                       config.pretrain_epochs)

    def loss_of(model: nn.Module, batch: TokenBatch) -> torch.Tensor:
        tokens = drop_words(batch.tokens, config.word_dropout)
        targets = batch.targets if soft_targets is None else soft_targets[batch.targets]
        return adversarial_classification_loss(model, tokens, batch.lengths, batch.chars,
                                               targets, config.adversarial_epsilon)

    trained = train_on_examples(model, config, ExampleTask(
        loss_of=loss_of,
        batches=lambda epoch: bucketed_examples(batch_examples, config.batch_size,
                                                seed=config.seed + epoch),
        validate=lambda m: classification_figures(
            [example[1] for example in valid_examples], predict_classes(m, valid_examples)),
        error_of=lambda figures: 1.0 - figures["accuracy"],
        figure_names=("accuracy", "macro_f1"), **_saved_with(model, data, config)))
    model.load_state_dict(load_checkpoint(out_dir, tag="best").model_state)
    test_examples = data.examples("test", config, spelled)
    true = [example[1] for example in test_examples]
    predicted = predict_classes(model, test_examples)
    counts = confusion_counts(true, predicted, len(data.labels))
    results = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "trained_s": round(trained.trained_s, 1), "seed": config.seed,
        "split_texts": {name: len(part) for name, part in data.splits.items()},
        "words": len(data.words), "labels": data.labels.names,
        "pretraining": pretraining, "history": trained.history,
        "test": classification_figures(true, predicted),
        "baseline_tfidf_logistic": tfidf_baseline(data, config),
        "confusion": counts}
    atomic_write_json(out_dir / "results.json", results)
    plot_confusion(counts, data.labels.names, out_dir / "confusion.png",
                   title=f"test confusion (accuracy {results['test']['accuracy']:.3f})")
    return results


SPLIT_FIELDS = ("dataset", "csv", "split_seed", "valid_fraction", "test_fraction")


def _teacher_targets(config: ClassificationConfig, data: ClassificationData,
                     train_examples: Sequence[Example | SpelledExample]
                     ) -> torch.Tensor | None:
    """Each training text's target distribution (texts, classes) mixed from its label and
    the mean probabilities of the runs ``config.teachers`` names, or ``None`` without
    teachers. A teacher with another label table or split is refused, naming it."""
    if not config.teachers:
        return None
    probabilities = []
    for run in (name.strip() for name in config.teachers.split(",") if name.strip()):
        teacher = SavedClassifier.load(run)
        if teacher.labels.names != data.labels.names:
            raise ValueError(f"teacher {run!r} was trained on labels {teacher.labels.names}, "
                             f"this run has {data.labels.names}")
        other = [name for name in SPLIT_FIELDS
                 if getattr(teacher.config, name) != getattr(config, name)]
        if other:  # it may have trained on this run's held-out texts
            raise ValueError(f"teacher {run!r} was trained on another split (its "
                             + ", ".join(f"{name}={getattr(teacher.config, name)!r}"
                                         for name in other) + ")")
        probabilities.append(teacher.probabilities(data.splits["train"],
                                                   f"training part (teacher {run!r})"))
    labels = torch.tensor([example[1] for example in train_examples])
    return mixed_targets(labels, mean_probabilities(probabilities), config.distill_weight)


def drop_words(tokens: torch.Tensor, rate: float) -> torch.Tensor:
    """``tokens`` (batch, time) with each word (not padding) replaced by ``<unk>`` with
    probability ``rate``: the model learns not to lean on any one word, and the ``<unk>``
    embedding is trained on the contexts unknown words really have (Iyyer et al. 2015)."""
    if rate == 0.0:
        return tokens
    dropped = (torch.rand(tokens.shape, device=tokens.device) < rate) & (tokens != PAD_ID)
    return tokens.masked_fill(dropped, UNKNOWN_ID)


@torch.no_grad()
def class_probabilities(model: SequenceClassifier,
                        examples: Sequence[Example | SpelledExample],
                        batch_size: int = 256) -> torch.Tensor:
    """Softmax class probabilities (examples, classes) in the order of ``examples``,
    computed in length-sorted batches."""
    model.eval()
    device = next(model.parameters()).device
    probabilities = torch.empty(len(examples), model.config.num_classes)
    for indices, batch in evaluation_batches(examples, batch_size):
        chars = None if batch.chars is None else batch.chars.to(device)
        logits = model(batch.tokens.to(device), batch.lengths, chars)
        probabilities[indices] = logits.softmax(dim=1).float().cpu()
    return probabilities


def predict_classes(model: SequenceClassifier,
                    examples: Sequence[Example | SpelledExample]) -> list[int]:
    """The most probable class id of each example."""
    return class_probabilities(model, examples).argmax(dim=1).tolist()


def tfidf_baseline(data: ClassificationData, config: ClassificationConfig) -> dict[str, Any]:
    """Test figures of TF-IDF word uni- and bigrams + logistic regression, fitted on the
    training texts, its inverse regularization ``C`` chosen on the validation texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def texts_and_labels(split: str) -> tuple[list[str], list[int]]:
        pairs = data.splits[split]
        return ([text for text, _ in pairs],
                data.labels.encode([label for _, label in pairs], f"{split} part"))

    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = (
        texts_and_labels(split) for split in ("train", "valid", "test"))
    vectorizer = TfidfVectorizer(tokenizer=word_tokens, lowercase=False, token_pattern=None,
                                 ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    train_features = vectorizer.fit_transform(train_x)
    best: tuple[float, float, Any] = (-math.inf, 0.0, None)
    for inverse_strength in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0):
        fitted = LogisticRegression(C=inverse_strength, max_iter=2000).fit(train_features,
                                                                          train_y)
        accuracy = float((fitted.predict(vectorizer.transform(valid_x)) == valid_y).mean())
        if accuracy > best[0]:
            best = (accuracy, inverse_strength, fitted)
    predicted = best[2].predict(vectorizer.transform(test_x)).tolist()
    return {"C": best[1], "valid_accuracy": best[0],
            **classification_figures(test_y, predicted)}


def plot_confusion(counts: list[list[int]], names: Sequence[str], path: str | Path,
                   title: str) -> Path:
    """The confusion matrix as a PNG: true classes in rows, predicted in columns, each cell
    with its count."""
    from rnnkit.plotting import pyplot, save_figure

    plt = pyplot()
    size = max(3.5, 0.6 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size, size * 0.85))
    image = axis.imshow(counts, cmap="Blues")
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    darkest = max(max(row) for row in counts) or 1
    for row, values in enumerate(counts):
        for column, value in enumerate(values):
            axis.text(column, row, str(value), ha="center", va="center",
                      color="white" if value > darkest / 2 else "black")
    figure.colorbar(image, ax=axis)
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)


def _saved_with(model: SequenceClassifier, data: ClassificationData,
                config: ClassificationConfig) -> dict[str, Any]:
    """What a checkpoint holds besides the weights: the configurations, the tables."""
    return {"saved_config": {"model": asdict(model.config), "classify": asdict(config)},
            "saved_tables": {"words": data.words.to_dict(), "labels": data.labels.to_dict(),
                             "chars": data.chars.to_dict()}}


@dataclass
class SavedClassifier:
    """A trained classifier with the tables and settings it was trained with."""

    model: SequenceClassifier
    words: TokenTable
    labels: LabelTable
    config: ClassificationConfig
    chars: TokenTable | None = None  # with character features

    @classmethod
    def load(cls, checkpoint: str | Path, tag: str = "best") -> SavedClassifier:
        """Read a classification run's checkpoint (safetensors and JSON, no pickle): the
        model, its config and tables only, the config checked against the tensors before
        the model is built (:func:`~rnnkit.training.checkpoint.load_model`)."""
        model, saved = load_model(checkpoint, _classifier_of, tag=tag)
        chars = (TokenTable.from_dict(saved.vocab["chars"])
                 if model.config.uses_chars else None)
        return cls(model, TokenTable.from_dict(saved.vocab["words"]),
                   LabelTable.from_dict(saved.vocab["labels"]),
                   ClassificationConfig.from_saved(saved.config["classify"]), chars)

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """The most probable label of each text and its probability; an empty text (no
        words) is a ``ValueError`` naming its line (counted from 1)."""
        examples = []
        for line, text in enumerate(texts, 1):
            if not word_tokens(text):
                raise ValueError(f"line {line}: {text!r} has no words to classify")
            examples.append(_example(text, 0, self.words, self.config, f"line {line}",
                                     self.chars))
        probabilities = class_probabilities(self.model, examples)
        best = probabilities.max(dim=1)
        return [(self.labels.names[index], float(p))
                for p, index in zip(best.values.tolist(), best.indices.tolist(), strict=True)]

    def evaluate(self, pairs: Sequence[tuple[str, str]], source: str) -> dict[str, float]:
        """Accuracy and macro-F1 on labelled texts; a label the model was not trained on is
        a ``ValueError`` naming it and its row."""
        examples = self._encode(pairs, source)
        return classification_figures([example[1] for example in examples],
                                      predict_classes(self.model, examples))

    def probabilities(self, pairs: Sequence[tuple[str, str]], source: str) -> torch.Tensor:
        """Class probabilities (texts, classes) of labelled texts, in the order of the
        label table (an ensemble averages these); labels are checked as by
        :meth:`evaluate`."""
        return class_probabilities(self.model, self._encode(pairs, source))

    def _encode(self, pairs: Sequence[tuple[str, str]],
                source: str) -> list[Example | SpelledExample]:
        return encode_texts(pairs, self.words, self.labels, self.config, source, self.chars)


def _classifier_of(config: dict[str, Any]) -> SequenceClassifier:
    """The classifier a checkpoint's config describes (refusing another task's run)."""
    if "classify" not in config:
        raise CheckpointError(f"this is not a classification checkpoint (its config has "
                              f"{sorted(config)})")
    return SequenceClassifier(ClassifierConfig(**config["model"]))


def evaluate_classifier_checkpoint(checkpoint: str | Path,
                                   csv: str | None = None) -> dict[str, float]:
    """Accuracy and macro-F1 of a run's best checkpoint on its test part, or on the CSV
    ``csv`` (with the run's text and label column names)."""
    saved = SavedClassifier.load(checkpoint)
    config = saved.config
    if csv is not None:
        pairs = read_labelled_texts(dataclasses.replace(config, csv=csv))
        return saved.evaluate(pairs, f"CSV {csv!r}")
    return saved.evaluate(load_classification_data(config).splits["test"], "test part")
