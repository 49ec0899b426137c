"""``rnnkit tag train|eval`` and ``rnnkit predict`` for a tagger run: a tag per token of
each input line."""

from __future__ import annotations

from typing import Any

from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.tag.training import TaggingConfig
from rnnkit.tasks.task_commands import TaskCommand, input_lines, task_plugin


def _train(config: Any, model_config: Any) -> dict[str, Any]:
    from rnnkit.tasks.tag.training import train_tagging

    return train_tagging(config, model_config)


def _evaluate(checkpoint: str, data_file: str | None) -> dict[str, Any]:
    from rnnkit.tasks.tag.training import evaluate_tagging_checkpoint

    return evaluate_tagging_checkpoint(checkpoint, data_file)


def _predict(checkpoint: str, input_path: str | None, column: str | None) -> None:
    from rnnkit.tasks.tag.training import tag_lines

    for tagged in tag_lines(checkpoint, input_lines(input_path)):
        print(" ".join(f"{token}/{tag}" for token, tag in tagged))


COMMAND = TaskCommand("tag", "aligned many-to-many: a tag per token (POS, entities)",
                      TaggingConfig, TaggerConfig, _train, _evaluate, _predict,
                      ("parameters", "trained_s", "split_sentences", "split_tokens", "test"))
PLUGIN = task_plugin(COMMAND)
