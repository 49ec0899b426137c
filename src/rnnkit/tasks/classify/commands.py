"""``rnnkit classify train|eval`` and ``rnnkit predict`` for a classifier run: a label and
its probability per input line."""

from __future__ import annotations

from typing import Any

from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks.classify.training import ClassificationConfig
from rnnkit.tasks.task_commands import TaskCommand, input_lines, task_plugin


def _train(config: Any, model_config: Any) -> dict[str, Any]:
    from rnnkit.tasks.classify.training import train_classifier

    return train_classifier(config, model_config)


def _evaluate(checkpoint: str, data_file: str | None) -> dict[str, Any]:
    from rnnkit.tasks.classify.training import evaluate_classifier_checkpoint

    return evaluate_classifier_checkpoint(checkpoint, data_file)


def _predict(checkpoint: str, input_path: str | None, column: str | None) -> None:
    from rnnkit.tasks.classify.training import SavedClassifier

    lines = input_lines(input_path)
    for text, (label, probability) in zip(
            lines, SavedClassifier.load(checkpoint).classify(lines), strict=True):
        print(f"{label}\t{probability:.4f}\t{text}")


COMMAND = TaskCommand("classify", "many-to-one: a label per text (sentiment)",
                      ClassificationConfig, ClassifierConfig, _train, _evaluate, _predict,
                      ("parameters", "trained_s", "split_texts", "test",
                       "baseline_tfidf_logistic"))
PLUGIN = task_plugin(COMMAND)
